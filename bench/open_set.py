"""Open-set identification on LFW: FNIR at fixed FPIR and FPIR at the shipped operating point, per condition.

    python bench/lfw_embeddings.py --condition colour   # (and grey, down2, down4) fill the embedding cache first
    python bench/open_set.py [--backend yunet-dlib] [--sizes 30,100,300,1000,3000] [--write-shipped]

Protocol (deep-funneled LFW, embeddings from the cache):
- fitting, view 1 only (pairsDevTrain people): the cohort half gives the cohort; the other half gives
  impostor curves (each probe, under each condition, against colour templates of the other people),
  per measured condition, as raw cosine and as cohort z-scores. ``--write-shipped`` stores them in
  ``sightline/calibration/shipped.json``; nothing from view 2 is used for it.
- reporting, view 2 only (people in pairs.txt and in neither view-1 file): people with >= 2 photos are
  enrolled with up to 5 colour photos (half of theirs) and probed with their other photos under the
  condition; people never enrolled are strangers (one photo each, plus every photo of the multi-photo
  people left out at small gallery sizes). The gallery is filled to size with real faces of other
  view-2 people, then with synthetic faces drawn from a Gaussian fitted to the real ones.
- FNIR counts a mated probe that is not named as the right person (unknown, undecided or wrong name);
  FPIR counts a stranger who is named. "FNIR at FPIR x" sets the raw-cosine threshold on the strangers
  themselves (an oracle figure, as NIST reports it); the shipped point is derived from view 1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from open_set_data import Probes, View1, View2, load_caches, probes_of, synthetic_fill, view1, view2  # noqa: E402

from sightline.calibration.impostor import ImpostorCurve  # noqa: E402
from sightline.calibration.operating_point import fmr_for_fpir  # noqa: E402
from sightline.calibration.policy import DEFAULT_TARGET_FPIR, SHIPPED_FILE, OpenSetPolicy  # noqa: E402
from sightline.vision.faces.thresholds import THRESHOLDS  # noqa: E402

EMBEDDERS = {"yunet-dlib": "dlib-resnet", "dlib": "dlib-resnet", "yunet-faceres": "faceres"}
MIN_CURVE_PROBES = 100
REFUSE_FNIR = 0.5  # a condition whose view-1 FNIR at the target (1,000 templates) is above this is refused


def fit_policy(v1: View1, embedder: str, target: float) -> tuple[OpenSetPolicy, dict[str, dict[str, float]]]:
    """Impostor curves per measured condition from view 1, and each condition's view-1 FNIR at the target."""
    pooled: dict[str, list[tuple[np.ndarray, list[str], list[str]]]] = {}
    for probes in v1.probes.values():
        for name in set(probes.condition):
            sel = [i for i, c in enumerate(probes.condition) if c == name and not probes.poor[i]]
            pooled.setdefault(name, []).append((probes.vectors[sel], [probes.people[i] for i in sel],
                                                [probes.rels[i] for i in sel]))
    curves, notes = {}, {}
    t_people = np.array(v1.template_people)
    t_rels = np.array(v1.template_rels)
    for name, parts in pooled.items():
        vectors = np.vstack([p[0] for p in parts])
        people = np.array([x for p in parts for x in p[1]])
        rels = np.array([x for p in parts for x in p[2]])
        if len(people) < MIN_CURVE_PROBES:
            continue
        scores = vectors @ v1.templates.T
        mean, std = v1.cohort.stats(vectors)
        z = (scores - mean[:, None]) / std[:, None]
        impostor = people[:, None] != t_people[None, :]
        genuine = ~impostor & (rels[:, None] != t_rels[None, :])
        curves[name] = {"cosine": ImpostorCurve.fit(scores[impostor]), "cohort-z": ImpostorCurve.fit(z[impostor])}
        t = curves[name]["cohort-z"].threshold_for(fmr_for_fpir(target, 1000))
        best_genuine = np.where(genuine, z, -np.inf).max(axis=1)
        has = np.isfinite(best_genuine)
        notes[name] = {"probes": int(len(people)), "impostor_trials": int(impostor.sum()),
                       "fnir_at_target_1000": float((best_genuine[has] < t).mean()) if has.any() else float("nan")}
    refused = tuple(sorted(n for n, v in notes.items() if v["fnir_at_target_1000"] > REFUSE_FNIR))
    policy = OpenSetPolicy(embedder, curves, target_fpir=target, score_kind="cohort-z", refused=refused,
                           source="shipped (LFW view 1)")
    return policy, notes


@dataclass
class Scored:
    """Per probe: best and second-best subject scores (raw and cohort-z), best subject, truth, condition."""

    best: np.ndarray
    second: np.ndarray
    z_best: np.ndarray
    z_second: np.ndarray
    best_subject: np.ndarray
    truth: np.ndarray  # enrolled subject index, -1 for strangers
    condition: list[str]
    poor: np.ndarray


def score(probes: Probes, truth: np.ndarray, gallery: np.ndarray, subject_of: np.ndarray, v1: View1) -> Scored:
    sims = probes.vectors @ gallery.T
    n_subjects = int(subject_of.max()) + 1
    starts = np.flatnonzero(np.r_[True, subject_of[1:] != subject_of[:-1]])
    per_subject = np.maximum.reduceat(sims, starts, axis=1)  # columns are grouped by subject
    assert per_subject.shape[1] == n_subjects
    order = np.argsort(-per_subject, axis=1)[:, :2]
    rows = np.arange(len(sims))
    best, second = per_subject[rows, order[:, 0]], per_subject[rows, order[:, 1]]
    mean, std = v1.cohort.stats(probes.vectors)
    return Scored(best, second, (best - mean) / std, (second - mean) / std, order[:, 0], truth,
                  probes.condition, probes.poor)


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "cosine" / "cohort-z" / "fixed"
    condition_aware: bool
    margin: float = 0.0


def decide(rule: Rule, s: Scored, policy: OpenSetPolicy, comparisons: int,
           fixed: float) -> tuple[np.ndarray, np.ndarray]:
    """(named, refused) per probe under ``rule``."""
    if rule.kind == "fixed":
        return s.best >= fixed, np.zeros(len(s.best), bool)
    kind = rule.kind
    thresholds = {}
    for name in set(s.condition):
        cond = name if rule.condition_aware else "colour"
        thresholds[name] = policy.operating_point(cond, comparisons, kind=kind).threshold
    thr = np.array([thresholds[c] for c in s.condition])
    best, second = (s.z_best, s.z_second) if kind == "cohort-z" else (s.best, s.second)
    refused = np.zeros(len(best), bool)
    if rule.condition_aware:
        refused = s.poor | np.array([c in policy.refused for c in s.condition])
        refused |= (best >= thr) & (best - second < rule.margin)
    return (best >= thr) & ~refused, refused


def oracle_fnir(mated: Scored, strangers: Scored, fpir: float) -> float:
    """FNIR with the raw threshold that names exactly ``fpir`` of the strangers."""
    t = np.quantile(strangers.best, 1.0 - fpir, method="higher") + 1e-9
    return float(1.0 - ((mated.best >= t) & (mated.best_subject == mated.truth)).mean())


def build_gallery(v2: View2, size: int) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int], int]:
    enrolled = v2.enrol_people[: min(size, len(v2.enrol_people))]
    blocks, subject_of = [], []
    for i, person in enumerate(enrolled):
        blocks.append(v2.templates[person])
        subject_of += [i] * len(v2.templates[person])
    extra = size - len(enrolled)
    real = v2.fill[: max(0, extra)]
    synth = synthetic_fill(v2.fill, extra - len(real))
    for j, row in enumerate(np.vstack([real, synth]) if extra > 0 else []):
        blocks.append(row.reshape(1, -1))
        subject_of.append(len(enrolled) + j)
    return np.vstack(blocks), np.array(subject_of), enrolled, {p: i for i, p in enumerate(enrolled)}, len(synth)


RULES = (
    Rule("cosine >= 1:1 verification threshold (before)", "fixed", False),
    Rule("cosine, gallery-size-aware, colour curve", "cosine", False),
    Rule("cosine, gallery-size + condition-aware", "cosine", True),
    Rule("cohort-z, gallery-size-aware, colour curve", "cohort-z", False),
    Rule("cohort-z, gallery-size + condition-aware (shipped)", "cohort-z", True),
)


def run(backend: str, sizes: list[int], write: bool, target: float) -> str:
    caches = load_caches(backend)
    embedder = EMBEDDERS[backend]
    v1 = view1(backend, embedder, caches)
    policy, notes = fit_policy(v1, embedder, target)
    if write:
        data = json.loads(SHIPPED_FILE.read_text()) if SHIPPED_FILE.is_file() else {}
        data[backend] = policy.to_dict() | {"fitted_on": notes, "backend": backend}
        SHIPPED_FILE.write_text(json.dumps(data, indent=1) + "\n")
    v2 = view2(caches)
    fixed = THRESHOLDS[backend].value
    conditions = [c for c in caches if caches[c].paths]
    lines = [f"**Open-set identification, {backend}** (deep-funneled LFW; fitted on view 1: "
             f"{len(v1.cohort.vectors)} cohort faces, {len(v1.templates)} templates; reported on view-2-only people; "
             f"target FPIR {target:g}; 1:1 threshold {fixed})", ""]
    lines.append("View-1 fit per measured condition: " + "; ".join(
        f"{n}: {v['probes']} probes, {v['impostor_trials']:,} impostor trials, FNIR at target (1,000 templates) "
        f"{100 * v['fnir_at_target_1000']:.1f} %" for n, v in sorted(notes.items())) +
        (f"; refused: {', '.join(policy.refused)}" if policy.refused else "; none refused"))
    lines += ["", "| condition | enrolled (templates; synthetic) | mated / stranger probes | FNIR @ FPIR 1 % "
              "| FNIR @ FPIR 0.1 % | " + " | ".join(f"{r.name}: FPIR / FNIR" for r in RULES)
              + " | shipped: undecided |",
              "|---|---|---|---|---|" + "---|" * len(RULES) + "---|"]
    for cond in conditions:
        for size in sizes:
            gallery, subject_of, enrolled, idx, n_synth = build_gallery(v2, size)
            mated_rels = [r for p in enrolled for r in v2.mated_rels[p]]
            left_out = [r for p in v2.enrol_people[len(enrolled):] for r in v2.mated_rels[p]]
            left_out += [r for p in v2.enrol_people[len(enrolled):] for r in _template_rels(v2, p)]
            mp = probes_of(caches[cond], mated_rels, cond)
            sp = probes_of(caches[cond], v2.stranger_rels + left_out, cond)
            if not len(mp.people) or not len(sp.people):
                continue
            mated = score(mp, np.array([idx[p] for p in mp.people]), gallery, subject_of, v1)
            strangers = score(sp, np.full(len(sp.people), -1), gallery, subject_of, v1)
            cells = []
            for rule in RULES:
                named_m, refused_m = decide(rule, mated, policy, len(gallery), fixed)
                named_s, _ = decide(rule, strangers, policy, len(gallery), fixed)
                fnir = 1.0 - (named_m & (mated.best_subject == mated.truth)).mean()
                cells.append(f"{100 * named_s.mean():.1f} % / {100 * fnir:.1f} %")
            undecided = refused_m.mean()
            lines.append(f"| {cond} | {size} ({len(gallery)}; {n_synth}) | {len(mp.people)} / {len(sp.people)} "
                         f"| {100 * oracle_fnir(mated, strangers, 0.01):.1f} % "
                         f"| {100 * oracle_fnir(mated, strangers, 0.001):.1f} % | " + " | ".join(cells)
                         + f" | {100 * undecided:.1f} % |")
    return "\n".join(lines)


def _template_rels(v2: View2, person: str) -> list[str]:
    """The enrolment photos of ``person`` (strangers when the person is not enrolled at this size)."""
    return sorted(set(_all_rels(v2, person)) - set(v2.mated_rels[person]))


def _all_rels(v2: View2, person: str) -> list[str]:
    from lfw_embeddings import lfw_root
    return sorted(f"{person}/{p.name}" for p in (lfw_root() / "images" / person).glob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="yunet-dlib", choices=sorted(EMBEDDERS))
    parser.add_argument("--sizes", default="30,100,300,1000,3000")
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET_FPIR, help="shipped target FPIR")
    parser.add_argument("--write-shipped", action="store_true", help="store the view-1 fit as the shipped policy")
    args = parser.parse_args()
    print(run(args.backend, [int(s) for s in args.sizes.split(",")], args.write_shipped, args.target))


if __name__ == "__main__":
    main()
