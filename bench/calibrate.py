"""Calibrate the 1:1 verification threshold of each face backend on LFW view 1, report it on view 2.

    python bench/lfw_embeddings.py --backend SPEC --condition colour   # fill the cache for each spec first
    python bench/calibrate.py [--backends yunet-fused,yunet-dlib] [--json]   # default: every LFW-reported backend

Choosing: the cosine threshold that maximises accuracy on ``pairsDevTrain.txt`` (LFW view 1, 1,100
same + 1,100 different pairs, deep-funneled images), the LFW convention. Reporting: that fixed
threshold applied to every pair of ``pairs.txt`` (view 2, 10 folds x 600 pairs): accuracy (mean ±
std over folds), false accepts and false rejects. No view-2 pair takes part in choosing. The
printed thresholds go into ``sightline/vision/faces/thresholds.py``; the threshold shipped there is
scored on view 2 alongside. Each backend is scored as it ships (``bench/lfw_views.py:shipped_spec``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_embeddings import lfw_root  # noqa: E402
from lfw_views import REPORTED, Pairs, backend_scores  # noqa: E402

from sightline.vision.faces.thresholds import THRESHOLDS  # noqa: E402


def pair_scores(backend: str, pairs_file: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, same, fold) of every pair for ``backend`` as it ships (its cached spec; a fused backend composed
    from its parts, as ``bench/lfw_views.py`` does); exits naming the cache to fill when images are missing."""
    pairs = Pairs(pairs_file.name)
    scores, _ = backend_scores(backend, pairs)
    return scores, pairs.same.astype(bool), pairs.folds


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (midway between neighbouring scores) that maximises accuracy."""
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    accuracy = [((scores >= t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def rates(scores: np.ndarray, same: np.ndarray, threshold: float) -> dict[str, float]:
    accept = scores >= threshold
    return {"far": float(accept[~same].mean()), "frr": float((~accept[same]).mean()),
            "accuracy": float((accept == same).mean())}


def calibrate(backend: str) -> dict[str, object]:
    root = lfw_root()
    dev_s, dev_same, _ = pair_scores(backend, root / "pairsDevTrain.txt")
    test_s, test_same, folds = pair_scores(backend, root / "pairs.txt")
    threshold = round(best_threshold(dev_s, dev_same), 3)
    fold_acc = [((test_s[folds == f] >= threshold) == test_same[folds == f]).mean() for f in np.unique(folds)]
    before = THRESHOLDS[backend].value
    return {"backend": backend, "threshold": threshold, "dev_pairs": len(dev_s), **{
        f"dev_{k}": v for k, v in rates(dev_s, dev_same, threshold).items()},
        "test_pairs": len(test_s),
        **{f"test_{k}": v for k, v in rates(test_s, test_same, threshold).items()},
        "test_accuracy_fold_mean": float(np.mean(fold_acc)), "test_accuracy_fold_std": float(np.std(fold_acc, ddof=1)),
        "before": before, **{f"before_test_{k}": v for k, v in rates(test_s, test_same, before).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(REPORTED))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [calibrate(b) for b in args.backends.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("Chosen on LFW view 1 (pairsDevTrain, deep-funneled), reported on LFW view 2 (pairs.txt, all 10 folds "
          "at the fixed threshold)\n")
    print("| backend | threshold (cos) | view 1: accuracy / FAR / FRR | view 2: accuracy (fold mean ± std) "
          "| view 2: FAR / FRR | shipped: threshold, view-2 FAR / FRR |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['threshold']:.3f} | {100 * r['dev_accuracy']:.2f} % / "
              f"{100 * r['dev_far']:.2f} % / {100 * r['dev_frr']:.2f} % ({r['dev_pairs']} pairs) "
              f"| {100 * r['test_accuracy_fold_mean']:.2f} % ± {100 * r['test_accuracy_fold_std']:.2f} "
              f"| {100 * r['test_far']:.2f} % / {100 * r['test_frr']:.2f} % ({r['test_pairs']} pairs) "
              f"| {r['before']:.3f}: {100 * r['before_test_far']:.2f} % / {100 * r['before_test_frr']:.2f} % |")


if __name__ == "__main__":
    main()
