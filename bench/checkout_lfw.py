"""LFW part of ``bench/checkout.py``: the checkout operating point chosen on view 1 and reported on view 2
with impostor pairs across **every** view-2 image, and what fusing several photos of the probe buys.

View 1 = every cached image of the pairsDevTrain people; view 2 = every cached image of the people named in
``pairs.txt`` (LFW's views share some people: view 2 is not fully held out from view 1, as in LFW's own
protocol). Impostor pairs: all cross-identity pairs of a view's images (view 2: ~33 M). Genuine pairs:
the 3,000 listed in pairs.txt, and every same-person pair of the view-2 images.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_embeddings import _rel, lfw_root, pair_people, view_people  # noqa: E402
from open_set_data import _cached_view, _rows, cache_specs  # noqa: E402
from protocol import read_pairs  # noqa: E402

BLOCK = 1024


@dataclass
class Faces:
    """Unit embeddings of cached LFW images with their identity."""

    rels: list[str]
    people: np.ndarray
    vectors: np.ndarray

    def subset(self, people: set[str]) -> Faces:
        keep = np.isin(self.people, sorted(people))
        return Faces([r for r, k in zip(self.rels, keep, strict=True) if k], self.people[keep], self.vectors[keep])


def load_backend(backend: str) -> Faces:
    """The colour cache of ``backend`` as it ships (a fused backend composed from its parts' caches)."""
    from lfw_views import fused_vectors

    embedder, specs = cache_specs(backend)
    parts = [_cached_view(spec, "colour") for spec in specs]
    common = set(parts[0].paths).intersection(*(p.paths for p in parts[1:]))
    keep = [p for p in parts[0].paths if p in common]
    if not keep:
        raise SystemExit(f"no colour cache for {backend}: run bench/lfw_embeddings.py first")
    parts = [_rows(p, keep) for p in parts]
    vectors = parts[0].vectors if len(parts) == 1 else fused_vectors(embedder, [p.vectors for p in parts])[0]
    detected = parts[0].detected.astype(bool)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rels = [r for r, d in zip(keep, detected, strict=True) if d]  # undetected rows hold no usable embedding
    return Faces(rels, np.array([r.split("/")[0] for r in rels]), vectors[detected].astype(np.float32))


def impostor_scores(faces: Faces) -> np.ndarray:
    """Cosine of every cross-identity pair (each pair once)."""
    out, n = [], len(faces.rels)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        scores = faces.vectors[start:stop] @ faces.vectors.T
        upper = np.arange(start, stop)[:, None] < np.arange(n)[None, :]
        out.append(scores[upper & (faces.people[start:stop, None] != faces.people[None, :])])
    return np.concatenate(out)


def genuine_all(faces: Faces) -> np.ndarray:
    """Cosine of every same-person pair (each pair once)."""
    out = []
    for person in np.unique(faces.people):
        rows = faces.vectors[faces.people == person]
        if len(rows) > 1:
            scores = rows @ rows.T
            out.append(scores[np.triu_indices(len(rows), 1)])
    return np.concatenate(out)


def genuine_listed(faces: Faces) -> tuple[np.ndarray, int]:
    """Cosine of pairs.txt's same-person pairs whose two images were detected; and how many were not."""
    index = {r: i for i, r in enumerate(faces.rels)}
    scores, missing = [], 0
    for pair in read_pairs(lfw_root() / "pairs.txt"):
        if pair.name_a != pair.name_b:
            continue
        a, b = _rel(pair.name_a, pair.num_a), _rel(pair.name_b, pair.num_b)
        if a in index and b in index:
            scores.append(float(faces.vectors[index[a]] @ faces.vectors[index[b]]))
        else:
            missing += 1
    return np.array(scores), missing


def threshold_at(impostors: np.ndarray, far: float) -> float:
    """Smallest threshold whose false-accept share (score >= t) is at most ``far``."""
    ordered = np.sort(impostors)[::-1]
    allowed = int(np.floor(far * len(ordered)))
    return float(np.nextafter(ordered[allowed], np.inf)) if allowed < len(ordered) else float(ordered[-1])


def frr(genuine: np.ndarray, threshold: float) -> float:
    return float(np.mean(genuine < threshold))


def far(impostors: np.ndarray, threshold: float) -> float:
    return float(np.mean(impostors >= threshold))


def views(backend: str) -> tuple[Faces, Faces]:
    """(view-1 faces, view-2 faces) of ``backend``."""
    faces = load_backend(backend)
    v1, _ = view_people()
    return faces.subset(v1), faces.subset(pair_people(lfw_root() / "pairs.txt"))


@dataclass
class FusionRow:
    frames: int
    genuine: int
    impostor: int
    frr_shipped: float
    far_shipped: float
    frr_at_1e4: float
    threshold_1e4: float


def fusion_rows(faces: Faces, threshold: float, frame_bar: float,
                ks: tuple[int, ...] = (1, 2, 3)) -> list[FusionRow]:
    """Attempts of ``k`` fused probe photos against one enrolment photo, for people with >= 1 + max(k) photos:
    the same probe photos for every k (each photo alone for k = 1). Impostor attempts: every person's fused
    probes against every other person's enrolment photo. Accepted like the checkout: fused score >= t and
    every single photo >= ``frame_bar``."""
    kmax = max(ks)
    people = [p for p in np.unique(faces.people) if np.sum(faces.people == p) >= 1 + kmax]
    enrol = np.vstack([faces.vectors[faces.people == p][0] for p in people])
    probes = [faces.vectors[faces.people == p][1:1 + kmax] for p in people]
    rows = []
    for k in ks:
        fused, singles_min_g, owner = [], [], []
        for i, group in enumerate(probes):
            for start in range(0, kmax - k + 1, k):
                chunk = group[start:start + k]
                mean = chunk.mean(axis=0)
                fused.append(mean / np.linalg.norm(mean))
                owner.append(i)
                singles_min_g.append(chunk)
        fused_m = np.vstack(fused)
        owner_a = np.array(owner)
        scores = fused_m @ enrol.T  # attempts x enrolled people
        per_frame_min = np.vstack([np.min(c @ enrol.T, axis=0) for c in singles_min_g])
        genuine_mask = owner_a[:, None] == np.arange(len(people))[None, :]
        g_score, g_min = scores[genuine_mask], per_frame_min[genuine_mask]
        i_score, i_min = scores[~genuine_mask], per_frame_min[~genuine_mask]
        accept_g = (g_score >= threshold) & (g_min >= frame_bar)
        accept_i = (i_score >= threshold) & (i_min >= frame_bar)
        oracle = threshold_at(i_score, 1e-4)
        rows.append(FusionRow(k, int(g_score.size), int(i_score.size), float(1 - accept_g.mean()),
                              float(accept_i.mean()), frr(g_score, oracle), oracle))
    return rows
