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

from sightline.calibration.impostor import ImpostorCurve, identity_upper_bound  # noqa: E402
from sightline.calibration.operating_point import fmr_for_fpir, verification_floor  # noqa: E402
from sightline.calibration.policy import DEFAULT_TARGET_FPIR, SHIPPED_FILE, OpenSetPolicy  # noqa: E402
from sightline.models.zoo import FACE_BACKENDS  # noqa: E402
from sightline.vision.faces.thresholds import THRESHOLDS  # noqa: E402

MIN_CURVE_PROBES = 100
REFUSE_FNIR = 0.5  # a condition whose view-1 FNIR at the target (100 templates) is above this is refused
REFUSE_AT = 100
MARGINS = {"cosine": 0.01, "cohort-z": 0.5}  # best subject must beat the second-best by this
MAX_DRAWS = 5  # disjoint galleries averaged at small sizes
BOUND = 0.99  # shipped curves: upper quantile of the false-match rate over a bootstrap of view-1 identities


def fit_policy(v1: View1, embedder: str, target: float,
               bound: float = BOUND) -> tuple[OpenSetPolicy, dict[str, dict[str, float]]]:
    """Impostor curves per measured condition from view 1 (each knot at the ``bound`` quantile over a bootstrap of
    probe identities; 0: the point estimate), and each condition's view-1 FNIR at the target."""
    pooled: dict[str, list[tuple[np.ndarray, list[str], list[str]]]] = {}
    for probes in v1.probes.values():
        for name in set(probes.condition):
            sel = [i for i, c in enumerate(probes.condition) if c == name and not probes.poor[i]]
            pooled.setdefault(name, []).append((probes.vectors[sel], [probes.people[i] for i in sel],
                                                [probes.rels[i] for i in sel]))
    curves, notes = {}, {}
    t_people = np.array(v1.template_people)
    t_rels = np.array(v1.template_rels)
    for name, parts in sorted(pooled.items()):
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
        if name == "colour":  # N_eff is fitted to the point estimate, which it must make match measured rates
            point_colour = dict(curves[name])
        if bound:
            curves[name] = {kind: identity_upper_bound(curves[name][kind], values, impostor, people, quantile=bound)
                            for kind, values in (("cosine", scores), ("cohort-z", z))}
        notes[name] = {"probes": int(len(people)), "impostor_trials": int(impostor.sum())}
        for kind, values in (("cosine", scores), ("cohort-z", z)):
            t = curves[name][kind].threshold_for(fmr_for_fpir(target, REFUSE_AT))
            best_genuine = np.where(genuine, values, -np.inf).max(axis=1)
            has = np.isfinite(best_genuine)
            notes[name][f"fnir_{kind}"] = float((best_genuine[has] < t).mean()) if has.any() else float("nan")
    # the score kind with the lower mean view-1 FNIR at the target (both hold the same impostor rate by construction)
    kind = min(("cosine", "cohort-z"), key=lambda k: np.nanmean([v[f"fnir_{k}"] for v in notes.values()]))
    refused = tuple(sorted(n for n, v in notes.items() if v[f"fnir_{kind}"] > REFUSE_FNIR))
    policy = OpenSetPolicy(embedder, curves, target_fpir=target, score_kind=kind, refused=refused,
                           source="shipped (LFW view 1)", margins=dict(MARGINS))
    policy.gallery_scale, policy.gallery_exponent, notes["gallery"] = gallery_model(v1, point_colour[kind], kind)
    return policy, notes


def gallery_model(v1: View1, curve: ImpostorCurve, kind: str) -> tuple[float, float, dict[str, float]]:
    """Fit ``N_eff = scale * N ** exponent`` on view 1: galleries of N colour templates, strangers = colour photos
    of the other view-1 people; N_eff is what makes the per-comparison curve predict the measured best-of-N rate."""
    probes = v1.probes["colour"]
    people = sorted(set(v1.template_people))
    np.random.default_rng(11).shuffle(people)
    t_people = np.array(v1.template_people)
    sims = probes.vectors @ v1.templates.T
    if kind == "cohort-z":
        mean, std = v1.cohort.stats(probes.vectors)
        sims = (sims - mean[:, None]) / std[:, None]
    sizes, effective = [], []
    for n in (10, 30, 100, 300, 1000):
        chosen: set[str] = set()
        count = 0
        for person in people:
            if count >= n:
                break
            chosen.add(person)
            count += int((t_people == person).sum())
        in_gallery = np.isin(t_people, list(chosen))
        strangers = ~np.isin(np.array(probes.people), list(chosen))
        if strangers.sum() < 100 or in_gallery.sum() < n:
            continue
        best = sims[strangers][:, in_gallery].max(axis=1)
        estimates = []
        for t in np.quantile(best, [0.7, 0.8, 0.9, 0.95, 0.98]):
            fpir, fmr = float((best >= t).mean()), curve.fmr(float(t))
            if 0 < fpir < 1 and 0 < fmr < 1:
                estimates.append(np.log1p(-fpir) / np.log1p(-fmr))
        if estimates:
            sizes.append(int(in_gallery.sum()))
            effective.append(float(np.median(estimates)))
    if len(sizes) < 2:
        return 1.0, 1.0, {}
    exponent, log_scale = np.polyfit(np.log(sizes), np.log(effective), 1)
    exponent = float(min(1.0, exponent))
    scale = float(np.exp(np.mean(np.log(effective) - exponent * np.log(sizes))))
    return scale, exponent, {f"N={n}": round(e, 1) for n, e in zip(sizes, effective, strict=True)}


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
        # as served: never laxer than 1:1 verification (the server's rule, shared)
        thresholds[name] = verification_floor(policy.operating_point(cond, comparisons, kind=kind), fixed).threshold
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


def build_gallery(v2: View2, size: int, draw: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int], int]:
    """Gallery number ``draw`` of ``size`` people (draws are disjoint sets of enrolled people while they last)."""
    start = draw * size if (draw + 1) * size <= len(v2.enrol_people) else 0
    enrolled = v2.enrol_people[start: start + min(size, len(v2.enrol_people))]
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
    Rule("cohort-z, gallery-size + condition-aware", "cohort-z", True),
    Rule("cosine, gallery-size + condition-aware, margin 0.01", "cosine", True, 0.01),
    Rule("cohort-z, gallery-size + condition-aware, margin 0.5 z", "cohort-z", True, 0.5),
)


def run(backend: str, sizes: list[int], write: bool, target: float, bound: float = BOUND) -> str:
    caches = load_caches(backend)
    embedder = FACE_BACKENDS[backend].embedder
    v1 = view1(backend, embedder, caches)
    policy, notes = fit_policy(v1, embedder, target, bound)
    if write:
        data = json.loads(SHIPPED_FILE.read_text()) if SHIPPED_FILE.is_file() else {}
        data[backend] = policy.to_dict() | {"fitted_on": notes, "backend": backend}
        SHIPPED_FILE.write_text(json.dumps(data, indent=1) + "\n")
    v2 = view2(caches)
    fixed = THRESHOLDS[backend].value
    conditions = [c for c in caches if caches[c].paths]
    lines = [f"**Open-set identification, {backend}** (deep-funneled LFW; fitted on view 1: "
             f"{len(v1.cohort.vectors)} cohort faces, {len(v1.templates)} templates; reported on view-2-only people; "
             f"target FPIR {target:g}; curves at the {bound:g} identity-bootstrap quantile (0: point); "
             f"1:1 threshold {fixed})", ""]
    lines.append("View-1 fit per measured condition: " + "; ".join(
        f"{n}: {v['probes']} probes, {v['impostor_trials']:,} impostor trials, FNIR at target with 100 templates "
        f"{100 * v['fnir_cosine']:.1f} % (cosine) / {100 * v['fnir_cohort-z']:.1f} % (cohort-z)"
        for n, v in sorted(notes.items()) if n != "gallery") + f"; shipped score: {policy.score_kind}; N_eff = "
        f"{policy.gallery_scale:.2f} x N^{policy.gallery_exponent:.2f} (view-1 N -> N_eff: {notes['gallery']})" +
        (f"; refused: {', '.join(policy.refused)}" if policy.refused else "; none refused"))
    main = ["| condition | enrolled people (templates; synthetic) | galleries | mated / stranger probes "
            "| FNIR @ FPIR 1 % | FNIR @ FPIR 0.1 % | shipped point: FPIR | shipped: FNIR "
            "| shipped: undecided (mated) |",
            "|---|---|---|---|---|---|---|---|---|"]
    compare: dict[tuple[str, int], dict[str, str]] = {}
    margin = policy.margins.get(policy.score_kind, 0.0)
    shipped = next(r for r in RULES if r.kind == policy.score_kind and r.condition_aware and r.margin == margin)
    for cond in conditions:
        for size in sizes:
            draws = max(1, min(MAX_DRAWS, len(v2.enrol_people) // size))
            tallies: dict[str, np.ndarray] = {}
            oracle, n_mated, n_strangers = np.zeros(2), 0, 0
            for draw in range(draws):
                gallery, subject_of, enrolled, idx, n_synth = build_gallery(v2, size, draw)
                others = [p for p in v2.enrol_people if p not in idx]
                mp = probes_of(caches[cond], [r for p in enrolled for r in v2.mated_rels[p]], cond)
                sp = probes_of(caches[cond], v2.stranger_rels + [r for p in others for r in _all_rels(v2, p)], cond)
                mated = score(mp, np.array([idx[p] for p in mp.people]), gallery, subject_of, v1)
                strangers = score(sp, np.full(len(sp.people), -1), gallery, subject_of, v1)
                n_mated, n_strangers = n_mated + len(mp.people), n_strangers + len(sp.people)
                oracle += np.array([oracle_fnir(mated, strangers, f) for f in (0.01, 0.001)]) * len(mp.people)
                for rule in RULES:
                    named_m, refused_m = decide(rule, mated, policy, len(gallery), fixed)
                    named_s, _ = decide(rule, strangers, policy, len(gallery), fixed)
                    hits = (named_m & (mated.best_subject == mated.truth)).sum()
                    tallies[rule.name] = tallies.get(rule.name, np.zeros(3)) + [named_s.sum(), hits, refused_m.sum()]
            for rule in RULES:
                named, hits, _ = tallies[rule.name]
                compare.setdefault((rule.name, size), {})[cond] = \
                    f"{100 * named / n_strangers:.2f} % / {100 * (1 - hits / n_mated):.1f} %"
            named, hits, refused = tallies[shipped.name]
            main.append(f"| {cond} | {size} ({len(gallery)}; {n_synth}) | {draws} | {n_mated} / {n_strangers} "
                        f"| {100 * oracle[0] / n_mated:.1f} % | {100 * oracle[1] / n_mated:.1f} % "
                        f"| {100 * named / n_strangers:.2f} % | {100 * (1 - hits / n_mated):.1f} % "
                        f"| {100 * refused / n_mated:.1f} % |")
    lines += ["", *main, "", "Which rule holds FPIR at the target across conditions (FPIR / FNIR per condition):", "",
              "| rule | enrolled | " + " | ".join(conditions) + " |", "|---|---|" + "---|" * len(conditions)]
    for (name, size), cells in compare.items():
        label = f"{name} (shipped)" if name == shipped.name else name
        lines.append(f"| {label} | {size} | " + " | ".join(cells.get(c, "-") for c in conditions) + " |")
    return "\n".join(lines)


def _all_rels(v2: View2, person: str) -> list[str]:
    from lfw_embeddings import lfw_root
    return sorted(f"{person}/{p.name}" for p in (lfw_root() / "images" / person).glob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="yunet-dlib", choices=sorted(FACE_BACKENDS))
    parser.add_argument("--sizes", default="30,100,300,1000,3000")
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET_FPIR, help="shipped target FPIR")
    parser.add_argument("--write-shipped", action="store_true", help="store the view-1 fit as the shipped policy")
    parser.add_argument("--bound", type=float, default=BOUND,
                        help="quantile of the identity bootstrap for the curves' false-match rates (0: point estimate)")
    args = parser.parse_args()
    print(run(args.backend, [int(s) for s in args.sizes.split(",")], args.write_shipped, args.target,
              args.bound))


if __name__ == "__main__":
    main()
