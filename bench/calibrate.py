"""Calibrate the verification threshold of each face backend on the dev split, check it on the test split.

    python bench/calibrate.py [--backends yunet-dlib,dlib,yunet-faceres] [--json]

The threshold is the midpoint between the highest impostor and the lowest
genuine cosine similarity on the dev split (or the equal-error point when they
overlap). The printed values go into sightline/vision/faces/thresholds.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from splits import dev_split, test_split  # noqa: E402

from sightline import FaceEngine  # noqa: E402


def embed_all(engine: FaceEngine, items: list[tuple[Path, str]]) -> tuple[np.ndarray, list[str]]:
    vectors, labels = [], []
    for path, label in items:
        vectors.append(engine.embed(path))
        labels.append(label)
    return np.array(vectors), labels


def pair_scores(a: np.ndarray, la: list[str], b: np.ndarray | None = None, lb: list[str] | None = None):
    """Genuine and impostor similarities: all pairs within ``a``, or all a x b pairs."""
    genuine, impostor = [], []
    if b is None:
        pairs = itertools.combinations(range(len(la)), 2)
        sims = a @ a.T
        for i, j in pairs:
            (genuine if la[i] == la[j] else impostor).append(float(sims[i, j]))
    else:
        sims = a @ b.T
        for i, j in itertools.product(range(len(la)), range(len(lb))):
            (genuine if la[i] == lb[j] else impostor).append(float(sims[i, j]))
    return np.array(genuine), np.array(impostor)


def choose_threshold(genuine: np.ndarray, impostor: np.ndarray) -> float:
    if genuine.min() > impostor.max():
        return float((genuine.min() + impostor.max()) / 2)
    candidates = np.unique(np.concatenate([genuine, impostor]))
    gaps = [abs((impostor >= t).mean() - (genuine < t).mean()) for t in candidates]
    return float(candidates[int(np.argmin(gaps))])


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    far = float((impostor >= threshold).mean()) if impostor.size else 0.0
    frr = float((genuine < threshold).mean()) if genuine.size else 0.0
    return far, frr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="yunet-dlib,dlib,yunet-faceres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dev, test = dev_split(), test_split()
    rows = []
    for backend in args.backends.split(","):
        engine = FaceEngine(backend).load()
        dev_vec, dev_lab = embed_all(engine, dev)
        test_vec, test_lab = embed_all(engine, test)
        g, i = pair_scores(dev_vec, dev_lab)
        threshold = choose_threshold(g, i)
        dev_far, dev_frr = rates(g, i, threshold)
        tg1, ti1 = pair_scores(test_vec, test_lab)
        tg2, ti2 = pair_scores(test_vec, test_lab, dev_vec, dev_lab)
        tg, ti = np.concatenate([tg1, tg2]), np.concatenate([ti1, ti2])
        test_far, test_frr = rates(tg, ti, threshold)
        rows.append({
            "backend": backend, "embedder": engine.spec.embedder, "threshold": round(threshold, 3),
            "dev_genuine": len(g), "dev_impostor": len(i), "dev_genuine_min": round(float(g.min()), 3),
            "dev_impostor_max": round(float(i.max()), 3), "dev_far": dev_far, "dev_frr": dev_frr,
            "test_genuine": len(tg), "test_impostor": len(ti), "test_far": test_far, "test_frr": test_frr,
            "test_accuracy": round(1 - (test_far * len(ti) + test_frr * len(tg)) / (len(ti) + len(tg)), 4),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"dev: {len(dev)} photos of {len({lab for _, lab in dev})} people; "
          f"test: {len(test)} photos (test pairs = within test + test x dev)\n")
    print("| backend | threshold (cos) | dev genuine min / impostor max | dev FAR / FRR (pairs) "
          "| test FAR / FRR (pairs) | test accuracy |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['threshold']:.3f} | {r['dev_genuine_min']:.3f} / {r['dev_impostor_max']:.3f} "
              f"| {r['dev_far']:.3f} / {r['dev_frr']:.3f} ({r['dev_impostor']} imp, {r['dev_genuine']} gen) "
              f"| {r['test_far']:.3f} / {r['test_frr']:.3f} ({r['test_impostor']} imp, {r['test_genuine']} gen) "
              f"| {r['test_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
