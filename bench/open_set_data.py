"""Data for the open-set benchmark: view-1 fitting sets and the view-2 enrol/probe/stranger protocol.

Everything comes from the embedding cache of ``bench/lfw_embeddings.py``. View 1 (pairsDevTrain)
people are split by :func:`sightline.calibration.lfw_cohort.in_cohort_half`: one half gives the
cohort, the other the impostor curves of the shipped policy. View-2-only people (in pairs.txt and in
no view-1 file) give the reported figures; the two sets share nobody.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import split_views  # noqa: E402
from lfw_embeddings import CONDITIONS, Embedded, detail, image_list, load, view2_split  # noqa: E402

from sightline.calibration.cohort import Cohort  # noqa: E402
from sightline.calibration.conditions import classify  # noqa: E402
from sightline.calibration.lfw_cohort import in_cohort_half  # noqa: E402
from sightline.models.zoo import FACE_BACKENDS  # noqa: E402
from sightline.vision.faces import fusion  # noqa: E402

SEED = 7  # synthetic fill
TEMPLATES_PER_PERSON = 1000  # every view-1 photo of the fitting half: as many impostor trials as view 1 gives


@dataclass
class Probes:
    """Probe embeddings with their identity and measured condition."""

    vectors: np.ndarray
    people: list[str]
    rels: list[str]
    condition: list[str]  # classified condition name
    poor: np.ndarray  # refused as too poor to decide
    detected: np.ndarray


def identity(rel: str) -> str:
    return rel.split("/")[0]


def probes_of(data: Embedded, rels: list[str], cache_condition: str) -> Probes:
    """The cached rows of ``rels`` (those present) as probes, each classified like a live face would be."""
    index = data.index()
    rows = [index[r] for r in rels if r in index]
    grey = cache_condition == "grey"
    detail = data.detail if data.detail is not None else np.full(len(data.paths), np.inf)
    conds = [classify(grey, float(data.eye_px[i]), float(detail[i]), float(data.pose[i])) for i in rows]
    return Probes(data.vectors[rows], [identity(data.paths[i]) for i in rows], [data.paths[i] for i in rows],
                  [c.name for c in conds],
                  np.array([c.poor or not data.detected[i] for c, i in zip(conds, rows, strict=True)], bool),
                  data.detected[rows].astype(bool))


@dataclass
class View1:
    """Cohort, colour templates and per-condition probes of view-1 people (fitting only)."""

    cohort: Cohort
    templates: np.ndarray
    template_people: list[str]
    template_rels: list[str]
    probes: dict[str, Probes]  # cache condition -> probes


def view1(backend: str, embedder: str, caches: dict[str, Embedded]) -> View1:
    rels, n2, n1 = image_list()
    v1 = rels[n2:n2 + n1]
    colour = caches["colour"]
    index = colour.index()
    cohort_rows, seen = [], set()
    for rel in sorted(v1):
        name = identity(rel)
        if in_cohort_half(name) and name not in seen and rel in index:
            seen.add(name)
            cohort_rows.append(index[rel])
    cohort = Cohort(colour.vectors[cohort_rows], embedder, "LFW view 1 (pairsDevTrain), cohort half")
    fit_rels = [r for r in v1 if not in_cohort_half(identity(r))]
    per_person: dict[str, int] = {}
    t_rows = []
    for rel in sorted(fit_rels):
        name = identity(rel)
        if rel in index and per_person.get(name, 0) < TEMPLATES_PER_PERSON:
            per_person[name] = per_person.get(name, 0) + 1
            t_rows.append(index[rel])
    probes = {c: probes_of(caches[c], fit_rels, c) for c in CONDITIONS if caches[c].paths}
    return View1(cohort, colour.vectors[t_rows], [identity(colour.paths[i]) for i in t_rows],
                 [colour.paths[i] for i in t_rows], probes)


@dataclass
class View2:
    """The reported protocol: enrolled people (colour templates), their other photos, strangers, fill."""

    enrol_people: list[str]  # shuffled; the first G are enrolled at gallery size G
    templates: dict[str, np.ndarray]  # person -> colour template rows
    mated_rels: dict[str, list[str]]  # person -> probe images
    stranger_rels: list[str]
    fill: np.ndarray  # real colour faces of other view-2 people, one per person (gallery fill)


def view2(caches: dict[str, Embedded]) -> View2:
    colour = caches["colour"]
    index = colour.index()
    people, multi, strangers_single, fill_people = view2_split()
    templates, mated = {}, {}
    for person in multi:
        photos = sorted(people[person])
        k = min(5, (len(photos) + 1) // 2)
        templates[person] = colour.vectors[[index[r] for r in photos[:k] if r in index]]
        mated[person] = photos[k:]
    fill = colour.vectors[[index[people[p][0]] for p in fill_people if people[p][0] in index]]
    return View2(multi, templates, mated, [people[p][0] for p in strangers_single], fill)


def synthetic_fill(real: np.ndarray, count: int, seed: int = SEED) -> np.ndarray:
    """``count`` unit vectors drawn from a Gaussian with the mean and covariance of ``real`` faces."""
    if count <= 0:
        return np.zeros((0, real.shape[1]), np.float32)
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    cov = np.cov(real, rowvar=False)
    draws = rng.multivariate_normal(mean, cov, size=count, method="eigh")
    return (draws / np.linalg.norm(draws, axis=1, keepdims=True)).astype(np.float32)


def cache_specs(backend: str) -> tuple[str, list[str]]:
    """``backend``'s embedder and the cache spec of each part it is computed from (one unless fused)."""
    from lfw_views import shipped_spec

    spec = FACE_BACKENDS[backend]
    if spec.detector != "yunet":  # dlib HOG: cached under its own name
        return spec.embedder, [backend]
    parts = [p for p, _ in fusion.FUSIONS[spec.embedder]] if spec.embedder in fusion.FUSIONS else [None]
    return spec.embedder, [shipped_spec(backend, embedder=part) for part in parts]


def _cached_view(spec: str, condition: str) -> Embedded:
    """A cache spec's rows; ``#plain`` / ``#tta`` pick one view of a ``flip=both`` cache."""
    name, _, view = spec.partition("#")
    data = load(name, condition)
    if view and data.paths:
        data.vectors = split_views(data.vectors, view)
    return data


def _rows(data: Embedded, keep: list[str]) -> Embedded:
    index = data.index()
    rows = [index[p] for p in keep]
    return Embedded(list(keep), data.vectors[rows], data.detected[rows], data.face_px[rows], data.eye_px[rows],
                    data.quality[rows], data.sharpness[rows], data.pose[rows])


def load_caches(backend: str) -> dict[str, Embedded]:
    """Every cached condition of ``backend`` as it ships (a fused backend composed from its parts' caches with
    the shipped fusion, on the images every part has), each with its face-detail measure."""
    from lfw_views import fused_vectors

    embedder, specs = cache_specs(backend)
    caches = {}
    for condition in CONDITIONS:
        parts = [_cached_view(spec, condition) for spec in specs]
        first_paths = parts[0].paths
        common = set(parts[0].paths).intersection(*(p.paths for p in parts[1:]))
        keep = [p for p in parts[0].paths if p in common]
        parts = [_rows(p, keep) for p in parts]
        data = parts[0]
        if len(parts) > 1 and keep:
            data.vectors = fused_vectors(embedder, [p.vectors for p in parts])[0]
        if data.paths:
            data.detail = _detail_rows(specs[0], condition, backend, first_paths, keep)
        caches[condition] = data
    return caches


def _detail_rows(spec: str, condition: str, backend: str, paths: list[str], keep: list[str]) -> np.ndarray:
    """Face detail of the ``keep`` rows, from the detail cache of the spec whose rows are ``paths``."""
    name = spec.partition("#")[0]
    values = dict(zip(paths, detail(name, condition, engine_backend=backend), strict=True))
    return np.array([values[p] for p in keep])
