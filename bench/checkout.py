"""Checkout (pay with your face) figures for the README.

    python bench/checkout.py [--backends yunet-dlib,yunet-fused,...] [--no-attacks] [--no-lfw]

1. **Verification at the checkout point on LFW** (``bench/checkout_lfw.py``; needs the embedding caches of
   ``bench/lfw_embeddings.py --condition colour``): thresholds at FAR 1e-3 / 1e-4 chosen on view 1, reported
   on view 2 with impostor pairs across every view-2 image (33 M pairs), FRR on pairs.txt's 3,000 genuine
   pairs and on every same-person pair; the oracle FRR at view-2 FAR 1e-3 / 1e-4; the FIDO anchor
   (FRR <= 3 % at FAR <= 0.01 %).
2. **What multi-frame fusion buys** (shipped embedder): 1, 2, 3 fused probe photos against one enrolment
   photo, at the shipped thresholds (which add the fusion raise) and at the oracle FAR 1e-4.
3. **Attacks and live attempts** on every clip cut from the real footage here (``bench/checkout_attacks.py``)
   and the time to a decision.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checkout_lfw as lfw  # noqa: E402
from common import data_dir, machine_summary, markdown_table  # noqa: E402

from sightline.checkout import fusion  # noqa: E402

DEFAULT_BACKENDS = "yunet-dlib,yunet-fused,yunet-mobileface,yunet-frfeature,yunet-insightface"
NONCOMMERCIAL = {"yunet-insightface", "yunet-fused-insightface"}
FIDO_FRR, FIDO_FAR = 0.03, 1e-4


def pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f} %"


def verification_table(backends: list[str]) -> str:
    rows = []
    for backend in backends:
        v1, v2 = lfw.views(backend)
        imp1 = lfw.impostor_scores(v1)
        imp2 = lfw.impostor_scores(v2)
        listed, _ = lfw.genuine_listed(v2)
        every = lfw.genuine_all(v2)
        cells = [backend + (" (non-commercial)" if backend in NONCOMMERCIAL else "")]
        for far in (1e-3, 1e-4):
            t = lfw.threshold_at(imp1, far)
            cells.append(f"{t:.4f}: FAR {lfw.far(imp2, t):.1e}, FRR {pct(lfw.frr(listed, t))} / "
                         f"{pct(lfw.frr(every, t))}")
        oracle = [lfw.threshold_at(imp2, far) for far in (1e-3, 1e-4)]
        cells.append(" / ".join(pct(lfw.frr(listed, t)) for t in oracle))
        frr_fido = lfw.frr(listed, oracle[1])
        cells.append("met" if frr_fido <= FIDO_FRR else f"no: {frr_fido / FIDO_FRR:.1f}× the FRR")
        rows.append(cells)
        cells.insert(1, f"{len(v1.rels)} / {len(imp1):,}")
        cells.insert(2, f"{len(v2.rels)} / {len(imp2):,} / {len(listed)} / {len(every):,}")
    return markdown_table(["backend", "view 1: images / impostor pairs",
                           "view 2: images / impostor pairs / listed genuine / all genuine",
                           "view-1 FAR 1e-3 threshold: view-2 FAR, FRR listed / all",
                           "view-1 FAR 1e-4 threshold: view-2 FAR, FRR listed / all",
                           "oracle view-2 FRR at FAR 1e-3 / 1e-4 (listed)", "FIDO: FRR <= 3 % at FAR <= 0.01 %"],
                          rows)


def knots_table(backends: list[str]) -> str:
    """What ``sightline/checkout/fusion.py`` ships per embedder: view-1 impostor quantiles and the fusion raise."""
    from sightline.models.zoo import FACE_BACKENDS

    rows = []
    for backend in backends:
        v1, _ = lfw.views(backend)
        imp1 = lfw.impostor_scores(v1)
        knots = [(far, lfw.threshold_at(imp1, far)) for far in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)]
        single, three = (r.threshold_1e4 for r in lfw.fusion_rows(v1, 0.0, -1.0, ks=(1, 3)))
        rows.append([backend, FACE_BACKENDS[backend].embedder,
                     ", ".join(f"({far:.0e}, {t:.4f})" for far, t in knots), f"{three - single:+.4f}"])
    return markdown_table(["backend", "embedder", "view-1 (FAR, threshold) knots", "fusion raise (3 vs 1 photo, "
                           "view 1 at FAR 1e-4)"], rows)


def fusion_table(backend: str) -> str:
    from sightline.models.zoo import FACE_BACKENDS

    embedder = FACE_BACKENDS[backend].embedder
    _, v2 = lfw.views(backend)
    rows = []
    for k in (1, 2, 3):
        shipped = fusion.threshold_at(embedder, fusion.FAR_1_1, 0.0, k)
        bar = fusion.frame_threshold(embedder, 0.0)
        row = [r for r in lfw.fusion_rows(v2, shipped, bar) if r.frames == k][0]
        rows.append([k, row.genuine, f"{row.impostor:,}", f"{shipped:.4f}", pct(row.frr_shipped, 1),
                     f"{row.far_shipped:.1e}", f"{row.threshold_1e4:.4f}", pct(row.frr_at_1e4, 1)])
    return markdown_table(["photos fused", "genuine attempts", "impostor attempts", "shipped threshold",
                           "FRR there", "FAR there", "view-2 threshold at FAR 1e-4", "FRR at FAR 1e-4"], rows)


def attack_tables(steps: int, backend: str = "auto") -> str:
    import checkout_attacks as attacks

    examples = data_dir() / "faces-small" / "examples"
    live, stills, replays, analysis_ms, decide_ms, passive_on = attacks.run(
        examples / "short_hamilton_clip.mp4", examples / "lin-manuel-miranda.png", steps, backend)
    performs = {"replay: recording (turns right)": ("turn_right",), "replay: mirrored (turns left)": ("turn_left",)}
    same = [j for j in replays if performs[j.clip] == j.challenge]
    other = [j for j in replays if performs[j.clip] != j.challenge]
    two_step = [j for j in stills + other if len(j.challenge) == steps]

    def share(items: list, accepted: bool = True) -> str:
        n = sum(1 for j in items if j.approved == accepted)
        return f"{n} / {len(items)} ({pct(n / len(items), 1)})" if items else "–"

    def why(items: list) -> str:
        counts = Counter(r for j in items if not j.approved for r in j.reasons)
        return "; ".join(f"{r} ({n})" for r, n in counts.most_common(3)) or "–"

    def passive(items: list) -> str:
        return str(sum(1 for j in items if any(r.startswith("presentation attack") for r in j.reasons)))

    def unmatched(items: list) -> str:
        return str(sum(1 for j in items if any(r.startswith("the face") for r in j.reasons)))

    accepted_at = sorted({" + ".join(j.challenge) for j in stills + other if j.approved})
    groups = [("live attempts (rejected share)", live, False), ("stills: photo / screenshot looped, zoomed, turned, "
              "waved", stills, True), ("replays of a recording, other challenge", other, True),
              (f"all attacks above, default {steps}-step challenges only", two_step, True),
              ("replay of a recording, the challenge it performs (limit)", same, True)]
    rows = [[name, len({j.clip for j in items}), share(items, accepted=flag), passive(items), unmatched(items),
             why(items)] for name, items, flag in groups]
    table = markdown_table(["attempts", "clips", "accepted", "passive said attack", "face not matched",
                            "main reasons for refusing"], rows)
    median = float(np.median(decide_ms))
    timing = (f"\nTime to a decision (live clips, server side: decode not included, {len(decide_ms)} clips): "
              f"analysis median {np.median(analysis_ms):.0f} ms, with the decision {median:.0f} ms "
              f"(min {min(decide_ms):.0f}, max {max(decide_ms):.0f}); the customer films for 4 s "
              f"(2.5 s per step). Passive liveness: {'on' if passive_on else 'not installed (challenge only)'}.")
    accepted = f"\nAttacks accepted under the challenges: {', '.join(accepted_at) or 'none'}."
    return table + timing + accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=DEFAULT_BACKENDS)
    parser.add_argument("--fusion-backends", default="yunet-dlib,yunet-fused")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--no-lfw", action="store_true")
    parser.add_argument("--no-attacks", action="store_true")
    parser.add_argument("--attack-backend", default="auto", help="face backend the checkout runs (default: auto)")
    args = parser.parse_args()
    print(f"<!-- {machine_summary()} -->")
    if not args.no_lfw:
        print("\n### Verification at the checkout point (LFW deep-funneled)\n")
        print(verification_table([b for b in args.backends.split(",") if b]))
        print("\nShipped operating points (sightline/checkout/fusion.py):\n")
        print(knots_table([b for b in args.backends.split(",") if b]))
        for backend in filter(None, args.fusion_backends.split(",")):
            print(f"\n### Multi-frame fusion ({backend}, LFW view 2, people with >= 4 photos)\n")
            print(fusion_table(backend))
    if not args.no_attacks:
        os.environ.setdefault("SIGHTLINE_MODELS", str(data_dir().parent / "models"))
        from sightline.engine import FaceEngine

        backend = FaceEngine(args.attack_backend).backend
        print(f"\n### Presentation attacks and live attempts (real footage, {backend})\n")
        print(attack_tables(args.steps, args.attack_backend))


if __name__ == "__main__":
    main()
