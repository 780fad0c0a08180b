"""A resumable cache of LFW face embeddings per (backend, image condition), shared by the open-set benchmarks.

    python bench/lfw_embeddings.py --backend yunet-dlib --condition colour [--limit N]   # fill the cache
    python bench/lfw_embeddings.py --status                                              # what is cached

The image list is fixed and ordered so that any prefix is a sensible subsample:
first every image of the *view-2-only* people (named in ``pairs.txt`` but in neither view-1 file:
the reporting set), then the ``pairsDevTrain.txt`` images (view 1: choosing, cohort) in a seeded
shuffle, then the remaining ``pairs.txt`` images (only needed to report 1:1 verification on view 2).
Each image is degraded by its condition (``grey``: BGR -> grey -> 3 channels; ``down2``/``down4``:
shrunk 2x/4x with area averaging, then enlarged back with bilinear interpolation, as a low-resolution
camera would deliver it), the face nearest the centre is detected on the degraded image and embedded.
When nothing is detected the centred box of ``bench/lfw.py`` is embedded and ``detected`` is False.
Chunks of 100 images are written to ``.cache/lfw/<backend>/<condition>/``; a run resumes where
the last stopped. The cache holds embeddings of a public data set, never site faces, and is git-ignored.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, data_dir  # noqa: E402
from protocol import read_pairs  # noqa: E402

CACHE = REPO / ".cache" / "lfw"
CHUNK = 100
CONDITIONS = ("colour", "grey", "down2", "down4")
SEED = 20261203
SPLIT_SEED = 7


@dataclass
class Embedded:
    """Cached rows for one (backend, condition): paths are relative to the LFW image folder."""

    paths: list[str]
    vectors: np.ndarray
    detected: np.ndarray
    face_px: np.ndarray
    eye_px: np.ndarray
    quality: np.ndarray
    sharpness: np.ndarray
    pose: np.ndarray
    detail: np.ndarray | None = None  # see detail()

    def identities(self) -> list[str]:
        return [p.split("/")[0] for p in self.paths]

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.paths)}


def lfw_root() -> Path:
    return data_dir() / "lfw"


def _rel(name: str, num: int) -> str:
    return f"{name}/{name}_{num:04d}.jpg"


def pair_people(pairs_file: Path) -> set[str]:
    """Every identity named in an LFW pairs file."""
    pairs = read_pairs(pairs_file)
    return {p.name_a for p in pairs} | {p.name_b for p in pairs}


def view_people(root: Path | None = None) -> tuple[set[str], set[str]]:
    """(view-1 people of pairsDevTrain, view-2-only people: in pairs.txt but in no view-1 file)."""
    root = root or lfw_root()
    v1 = pair_people(root / "pairsDevTrain.txt")
    v1_test = pair_people(root / "pairsDevTest.txt")
    return v1, pair_people(root / "pairs.txt") - v1 - v1_test


def image_list(root: Path | None = None) -> tuple[list[str], int, int]:
    """The ordered image list and the sizes of its first two parts (view-2-only, view-1 DevTrain)."""
    root = root or lfw_root()
    _, v2_only = view_people(root)
    images = root / "images"
    first = sorted(f"{p.parent.name}/{p.name}" for name in v2_only for p in (images / name).glob("*.jpg"))

    def pair_rels(pairs_file: Path) -> list[str]:
        rels = set()
        for p in read_pairs(pairs_file):
            rels.add(_rel(p.name_a, p.num_a))
            rels.add(_rel(p.name_b, p.num_b))
        return sorted(rels)

    second = pair_rels(root / "pairsDevTrain.txt")
    random.Random(SEED).shuffle(second)
    seen = set(first) | set(second)
    third = [r for r in pair_rels(root / "pairs.txt") if r not in seen]
    random.Random(SEED + 1).shuffle(third)
    return first + second + third, len(first), len(second)


def view2_split(root: Path | None = None) -> tuple[dict[str, list[str]], list[str], list[str], list[str]]:
    """View-2-only people: (photos per person, people with >= 2 photos (shuffled), stranger singles, fill singles)."""
    rels, n2, _ = image_list(root)
    people: dict[str, list[str]] = {}
    for rel in rels[:n2]:
        people.setdefault(rel.split("/")[0], []).append(rel)
    multi = sorted(p for p, r in people.items() if len(r) >= 2)
    singles = sorted(p for p, r in people.items() if len(r) == 1)
    rng = random.Random(SPLIT_SEED)
    rng.shuffle(multi)
    rng.shuffle(singles)
    return people, multi, singles[: len(singles) // 2], singles[len(singles) // 2:]


def degraded_subset(view1_images: int = 700) -> list[str]:
    """What a degraded condition needs: every photo of view-2 multi-photo people, the stranger singles, and the
    first ``view1_images`` view-1 photos of people outside the cohort half (for the impostor curves)."""
    from sightline.calibration.lfw_cohort import in_cohort_half

    rels, n2, n1 = image_list()
    people, multi, strangers, _ = view2_split()
    wanted = {r for p in multi for r in people[p]} | {r for p in strangers for r in people[p]}
    v2 = [r for r in rels[:n2] if r in wanted]
    v1 = [r for r in rels[n2:n2 + n1] if not in_cohort_half(r.split("/")[0])][:view1_images]
    return v2 + v1


def degrade(bgr: np.ndarray, condition: str) -> np.ndarray:
    """The image as it would look under ``condition``."""
    if condition == "colour":
        return bgr
    if condition == "grey":
        return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if condition.startswith("down"):
        factor = int(condition[4:])
        h, w = bgr.shape[:2]
        small = cv2.resize(bgr, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    raise ValueError(f"unknown condition {condition!r} (one of {', '.join(CONDITIONS)})")


def _chunk_dir(backend: str, condition: str) -> Path:
    return CACHE / backend / condition


def fill(backend: str, condition: str, limit: int | None, subset: str = "all", reverse: bool = False) -> None:
    """Embed every not-yet-cached chunk of the first ``limit`` images (``subset="degraded"``: of
    :func:`degraded_subset`, skipping images already cached)."""
    from common import bench_engine
    from lfw import centre_face, pick_face

    from sightline.vision.faces.quality import assess_quality

    root = lfw_root()
    rels, _, _ = image_list(root)
    rels = rels[:limit] if limit else rels
    out = _chunk_dir(backend, condition)
    out.mkdir(parents=True, exist_ok=True)
    prefix = "chunk"
    if subset == "degraded":
        done = set(load(backend, condition).paths)
        rels, prefix = [r for r in degraded_subset() if r not in done], "chunk_d"
    engine = bench_engine(backend)  # "backend[:option=value]" (bench/common.py): face-matching studies
    starts = range(0, len(rels), CHUNK)
    for start in starts[::-1] if reverse else starts:  # a second worker can fill from the end
        target = out / f"{prefix}_{start // CHUNK:05d}.npz"
        if target.exists() and len(np.load(target)["paths"]) == len(rels[start:start + CHUNK]):
            continue  # (a chunk cut short by an earlier --limit is redone)
        began = time.perf_counter()
        batch = rels[start:start + CHUNK]
        vectors = np.zeros((len(batch), engine.embedding_dim), np.float32)
        detected = np.zeros(len(batch), bool)
        face_px, eye_px, quality, sharpness, pose = (np.zeros(len(batch), np.float32) for _ in range(5))
        for i, rel in enumerate(batch):
            pixels = degrade(cv2.imread(str(root / "images" / rel), cv2.IMREAD_COLOR), condition)
            h, w = pixels.shape[:2]
            faces = engine.detector.detect(pixels)
            face = pick_face(faces, h, w, "centre") if faces else centre_face(h, w)
            detected[i] = bool(faces)
            q = assess_quality(pixels, face)
            face_px[i], quality[i], sharpness[i], pose[i] = q.face_pixels, q.score, q.sharpness, q.pose
            eye_px[i] = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
            vectors[i] = engine.embedder.embed(pixels, [face])[0]
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, paths=np.array(batch), vectors=vectors, detected=detected, face_px=face_px,
                 eye_px=eye_px, quality=quality, sharpness=sharpness, pose=pose)
        tmp.rename(target)
        print(f"{backend}/{condition} {start + len(batch)}/{len(rels)} ({time.perf_counter() - began:.0f} s/chunk)",
              flush=True)


def load(backend: str, condition: str) -> Embedded:
    """Everything cached for ``(backend, condition)`` (possibly a prefix of the list; empty if nothing)."""
    parts = [np.load(p) for p in sorted(_chunk_dir(backend, condition).glob("chunk_*[0-9].npz"))]
    if not parts:
        return Embedded([], np.zeros((0, 0), np.float32), *(np.zeros(0) for _ in range(6)))
    return _dedup(Embedded(
        paths=[str(p) for part in parts for p in part["paths"]],
        vectors=np.concatenate([p["vectors"] for p in parts]).astype(np.float32),
        detected=np.concatenate([p["detected"] for p in parts]),
        face_px=np.concatenate([p["face_px"] for p in parts]),
        eye_px=np.concatenate([p["eye_px"] for p in parts]),
        quality=np.concatenate([p["quality"] for p in parts]),
        sharpness=np.concatenate([p["sharpness"] for p in parts]),
        pose=np.concatenate([p["pose"] for p in parts]),
    ))


def _dedup(data: Embedded) -> Embedded:
    first: dict[str, int] = {}
    for i, p in enumerate(data.paths):
        first.setdefault(p, i)
    if len(first) == len(data.paths):
        return data
    keep = sorted(first.values())
    return Embedded([data.paths[i] for i in keep], data.vectors[keep], data.detected[keep], data.face_px[keep],
                    data.eye_px[keep], data.quality[keep], data.sharpness[keep], data.pose[keep])


def detail(backend: str, condition: str, engine_backend: str | None = None) -> np.ndarray:
    """:func:`face_detail` of every cached row of (backend, condition), computed once (detector only) and cached;
    ``engine_backend`` names the shipped backend whose detector made the cache when ``backend`` is a spec."""
    from lfw import centre_face, pick_face

    from sightline import FaceEngine
    from sightline.calibration.conditions import face_detail

    data = load(backend, condition)
    target = _chunk_dir(backend, condition) / "detail.npz"
    known: dict[str, float] = {}
    if target.exists():
        with np.load(target) as saved:
            known = dict(zip([str(p) for p in saved["paths"]], saved["detail"].tolist(), strict=True))
    todo = [p for p in data.paths if p not in known]
    if todo:
        detector = FaceEngine(engine_backend or backend).detector
        for rel in todo:
            pixels = degrade(cv2.imread(str(lfw_root() / "images" / rel), cv2.IMREAD_COLOR), condition)
            h, w = pixels.shape[:2]
            faces = detector.detect(pixels)
            known[rel] = face_detail(pixels, pick_face(faces, h, w, "centre") if faces else centre_face(h, w))
        np.savez(target, paths=np.array(list(known)), detail=np.array(list(known.values())))
    return np.array([known[p] for p in data.paths])


def status() -> None:
    rels, n_first, n_second = image_list()
    print(f"image list: {len(rels)} ({n_first} view-2-only, {n_second} view-1 DevTrain, rest pairs.txt)")
    for backend_dir in sorted(CACHE.glob("*")):
        for cond_dir in sorted(backend_dir.glob("*")):
            n = len(load(backend_dir.name, cond_dir.name).paths)
            print(f"{backend_dir.name}/{cond_dir.name}: {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="yunet-dlib")
    parser.add_argument("--condition", default="colour", choices=CONDITIONS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of the list")
    parser.add_argument("--subset", default="all", choices=("all", "degraded"),
                        help="degraded: only what a degraded condition needs (see degraded_subset)")
    parser.add_argument("--reverse", action="store_true", help="fill the last chunks first (a second worker)")
    parser.add_argument("--status", action="store_true")
    args = parser.parse_args()
    if args.status:
        status()
    else:
        fill(args.backend, args.condition, args.limit, args.subset, args.reverse)


if __name__ == "__main__":
    main()
