"""Face verification accuracy with the LFW 10-fold protocol, for each Sightline face backend.

    python bench/lfw.py --lfw DIR --pairs pairs.txt      # real LFW (view 2), or any data in its format
    python bench/lfw.py [--faces-small DIR]              # NOT LFW: all pairs of the labelled sample photos

Images are ``DIR/<name>/<name>_<nnnn>.jpg``. Each image's face is the detected
face nearest the image centre (LFW) or the largest one (faces-small); when the
detector finds none, a centred box (45 % of the shorter side, where LFW's
250x250 crops put the face) is embedded instead and counted. For each fold the
cosine-similarity threshold that maximises accuracy on the other folds is
applied to it; the table gives mean ± sample std over folds and the chosen
thresholds. Options: ``--backends a,b``, ``--folds`` and ``--seed`` (faces-small
only), ``--json``.

For the full LFW view 2 of every backend use the resumable embedding cache instead (CPU-cheap
to rerun, and choices made on view 1 only): ``bench/lfw_embeddings.py`` then ``bench/lfw_views.py``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import faces_small_dir, labelled_faces_small, machine_summary, markdown_table  # noqa: E402
from protocol import (  # noqa: E402
    ProtocolResult,
    cross_validate,
    lfw_image_path,
    read_pairs,
    stratified_folds,
)

from sightline import FaceEngine  # noqa: E402
from sightline.errors import ConfigError, SightlineError  # noqa: E402
from sightline.vision.faces.align import ARCFACE_TEMPLATE_112  # noqa: E402
from sightline.vision.faces.types import Face  # noqa: E402
from sightline.vision.image_io import load_image  # noqa: E402

DEFAULT_BACKENDS = "yunet-dlib,dlib,yunet-mobileface,yunet-fused"
CENTRE_BOX_FRACTION = 0.45


@dataclass
class PairSet:
    """Images to embed and the pairs (indices into ``images``) to score, with their folds."""

    title: str
    images: list[Path]
    left: np.ndarray
    right: np.ndarray
    same: np.ndarray
    folds: np.ndarray
    identities: int
    pick: str  # "centre" or "largest"
    notes: list[str] = field(default_factory=list)


def lfw_pair_set(root: Path, pairs_file: Path) -> PairSet:
    """The pairs of an LFW-format ``pairs.txt`` over the images under ``root``."""
    if not root.is_dir():
        raise ConfigError(f"{root}: LFW image folder not found", code="not_found")
    pairs = read_pairs(pairs_file)
    index: dict[Path, int] = {}
    left, right = [], []
    for pair in pairs:
        for name, number, side in ((pair.name_a, pair.num_a, left), (pair.name_b, pair.num_b, right)):
            side.append(index.setdefault(lfw_image_path(root, name, number), len(index)))
    images = list(index)
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise ConfigError(f"{len(missing)} of {len(images)} images named in {pairs_file} are missing under {root}, "
                          f"e.g. {missing[0]}", code="not_found")
    n_folds = len({p.fold for p in pairs})
    return PairSet(
        title=f"LFW-format pairs: {pairs_file} over {root} ({n_folds} folds, {len(pairs)} pairs)",
        images=images,
        left=np.array(left), right=np.array(right),
        same=np.array([p.same for p in pairs]), folds=np.array([p.fold for p in pairs]),
        identities=len({p.name_a for p in pairs} | {p.name_b for p in pairs}),
        pick="centre",
    )


def faces_small_pair_set(root: Path, n_folds: int, seed: int) -> PairSet:
    """All genuine and impostor pairs of the labelled faces-small photos, dealt into folds."""
    items = labelled_faces_small(root)
    if len(items) < 2:
        raise ConfigError(f"{root}: fewer than two labelled photos found", code="not_found")
    combos = list(itertools.combinations(range(len(items)), 2))
    left = np.array([a for a, _ in combos])
    right = np.array([b for _, b in combos])
    same = np.array([items[a].identity == items[b].identity for a, b in combos])
    identities = sorted({item.identity for item in items})
    per_person = {name: sum(item.identity == name for item in items) for name in identities}
    return PairSet(
        title=(f"NOT LFW - faces-small sample photos ({root}): {len(items)} distinct photos of "
               f"{len(identities)} identities, ALL {len(combos)} pairs ({int(same.sum())} genuine, "
               f"{int((~same).sum())} impostor), stratified into {n_folds} folds (seed {seed})"),
        images=[item.path for item in items],
        left=left, right=right, same=same, folds=stratified_folds(same, n_folds, seed),
        identities=len(identities),
        pick="largest",
        notes=[
            "photos per identity: " + ", ".join(f"{name} {count}" for name, count in per_person.items()),
            "folds share photos and people (unlike LFW's), and obama-240p/480p/720p/1080p are one photo "
            "rescaled, so genuine pairs are easier than LFW's: a smoke test, not a published-comparable figure",
        ],
    )


def centre_face(height: int, width: int) -> Face:
    """A centred square box with ArcFace-template landmarks, for images where no face was detected."""
    side = CENTRE_BOX_FRACTION * min(height, width)
    x1, y1 = (width - side) / 2.0, (height - side) / 2.0
    landmarks = ARCFACE_TEMPLATE_112 * (side / 112.0) + np.array([x1, y1])
    return Face(box=(x1, y1, x1 + side, y1 + side), score=0.0, landmarks=landmarks)


def pick_face(faces: list[Face], height: int, width: int, how: str) -> Face:
    """The face nearest the image centre (``how="centre"``) or the largest one."""
    if how == "centre":
        def distance(face: Face) -> float:
            return ((face.box[0] + face.box[2] - width) ** 2 + (face.box[1] + face.box[3] - height) ** 2) / 4.0
        return min(faces, key=distance)
    return max(faces, key=lambda f: f.width * f.height)


def embed_images(engine: FaceEngine, images: list[Path], pick: str) -> tuple[np.ndarray, list[Path]]:
    """One embedding per image (falling back to :func:`centre_face`) and the images that needed the fallback."""
    vectors = np.zeros((len(images), engine.embedding_dim), dtype=np.float32)
    fallbacks: list[Path] = []
    for i, path in enumerate(images):
        pixels = load_image(path)
        height, width = pixels.shape[:2]
        faces = engine.detector.detect(pixels)
        if faces:
            face = pick_face(faces, height, width, pick)
        else:
            face = centre_face(height, width)
            fallbacks.append(path)
        vectors[i] = engine.embedder.embed(pixels, [face])[0]
    return vectors, fallbacks


@dataclass
class BackendResult:
    backend: str
    result: ProtocolResult
    fallbacks: list[Path]
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "accuracy_mean": round(self.result.mean, 4),
            "accuracy_std": round(self.result.std, 4),
            "accuracy_se": round(self.result.standard_error, 4),
            "folds": [{"fold": f.fold, "threshold": round(f.threshold, 4), "accuracy": round(f.accuracy, 4),
                       "pairs": f.pairs} for f in self.result.folds],
            "fallback_images": [str(p) for p in self.fallbacks],
            "seconds": round(self.seconds, 1),
        }


def evaluate(backend: str, pair_set: PairSet) -> BackendResult:
    """Embed every image with ``backend`` and run the leave-one-fold-out protocol."""
    start = time.perf_counter()
    engine = FaceEngine(backend).load()
    vectors, fallbacks = embed_images(engine, pair_set.images, pair_set.pick)
    scores = np.einsum("ij,ij->i", vectors[pair_set.left], vectors[pair_set.right])
    result = cross_validate(scores, pair_set.same, pair_set.folds)
    return BackendResult(backend, result, fallbacks, time.perf_counter() - start)


def report(pair_set: PairSet, results: list[BackendResult]) -> str:
    """Markdown: a summary row per backend, then the per-fold thresholds and accuracies."""
    n_images = len(pair_set.images)
    summary = markdown_table(
        ["backend", "accuracy (mean ± std)", "std. error", "threshold (mean; min-max)",
         "no face detected (centre box used)", "time (s)"],
        [[r.backend, f"{100 * r.result.mean:.2f} % ± {100 * r.result.std:.2f}",
          f"{100 * r.result.standard_error:.2f}",
          f"{np.mean(r.result.thresholds):.3f}; {min(r.result.thresholds):.3f}-{max(r.result.thresholds):.3f}",
          f"{len(r.fallbacks)} / {n_images}", f"{r.seconds:.1f}"] for r in results],
    )
    n_folds = len(results[0].result.folds) if results else 0
    per_fold = markdown_table(
        ["backend", *[f"fold {i + 1}" for i in range(n_folds)]],
        [[r.backend, *[f"{f.threshold:.3f} ({100 * f.accuracy:.1f} %)" for f in r.result.folds]] for r in results],
    )
    lines = [f"**{pair_set.title}**", ""]
    lines += [f"- {note}" for note in pair_set.notes]
    lines += [f"- machine: {machine_summary()}", "", summary, "",
              "Threshold chosen on the other folds (cosine similarity) and accuracy on the held-out fold:", "",
              per_fold]
    for r in results:
        if r.fallbacks:
            lines.append(f"\n{r.backend}: no face detected in " + ", ".join(p.name for p in r.fallbacks))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", type=Path, help="LFW image folder (DIR/name/name_0001.jpg)")
    parser.add_argument("--pairs", type=Path, help="LFW pairs.txt (default: DIR/pairs.txt or DIR/../pairs.txt)")
    parser.add_argument("--faces-small", type=Path, default=None,
                        help="faces-small folder, used when --lfw is not given (default: $SIGHTLINE_DATA/faces-small)")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"comma-separated (default {DEFAULT_BACKENDS})")
    parser.add_argument("--folds", type=int, default=10, help="folds for faces-small (LFW's come from pairs.txt)")
    parser.add_argument("--seed", type=int, default=0, help="fold shuffling seed for faces-small")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    try:
        if args.lfw is not None:
            pairs_file = args.pairs or next(
                (p for p in (args.lfw / "pairs.txt", args.lfw.parent / "pairs.txt") if p.is_file()),
                args.lfw / "pairs.txt")
            pair_set = lfw_pair_set(args.lfw, pairs_file)
        else:
            if args.pairs is not None:
                raise ConfigError("--pairs needs --lfw DIR (the image folder it refers to)")
            if args.folds < 2:
                raise ConfigError("--folds must be at least 2")
            pair_set = faces_small_pair_set(args.faces_small or faces_small_dir(), args.folds, args.seed)
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        results = [evaluate(backend, pair_set) for backend in backends]
    except SightlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps({"dataset": pair_set.title, "is_lfw": args.lfw is not None, "notes": pair_set.notes,
                          "images": len(pair_set.images), "identities": pair_set.identities,
                          "pairs": int(pair_set.same.size), "genuine_pairs": int(pair_set.same.sum()),
                          "results": [r.to_dict() for r in results]}, indent=2))
    else:
        print(report(pair_set, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
