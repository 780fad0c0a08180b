"""Shared helpers for the face benchmarks: sample data, the labelled identity set, timing, tables.

Used by ``bench/speed.py`` and ``bench/lfw.py``; nothing here loads a model.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from sightline.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# File-name prefix -> identity for photos outside knn_examples/train/<person>/.
NAME_PREFIXES: tuple[tuple[str, str], ...] = (
    ("obama", "obama"),
    ("biden", "biden"),
    ("alex", "alex_lacamoire"),
    ("lin-", "lin_manuel_miranda"),
    ("johnsnow", "kit_harington"),
)
# Stems of photos that show several people: never labelled with one identity.
MULTI_PERSON_MARKERS = ("_and_", "_with_", "two_people", "group_")

T = TypeVar("T")


def data_dir() -> Path:
    """``$SIGHTLINE_DATA``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("SIGHTLINE_DATA", REPO.parent / "shared" / "data"))


def faces_small_dir() -> Path:
    """The faces-small sample folder."""
    return data_dir() / "faces-small"


def list_images(root: Path) -> list[Path]:
    """Every still image under ``root`` (by suffix; videos and text files are skipped), sorted."""
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder (set SIGHTLINE_DATA or pass the folder explicitly)",
                          code="not_found")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class LabelledImage:
    """One photo of one known person."""

    path: Path
    identity: str


def identity_from_name(path: Path) -> str | None:
    """The identity a file name announces (``obama2.jpg`` -> ``obama``), or None for unknown/multi-person."""
    stem = path.stem.lower()
    if any(marker in stem for marker in MULTI_PERSON_MARKERS):
        return None
    for prefix, identity in NAME_PREFIXES:
        if stem.startswith(prefix):
            return identity
    return None


def labelled_faces_small(root: Path | None = None) -> list[LabelledImage]:
    """The labelled identity set of faces-small, one entry per distinct file (by SHA-256).

    Identities come from ``examples/knn_examples/train/<person>/*`` and from the
    file names of the other single-person photos (see :data:`NAME_PREFIXES`).
    Photos of several people and byte-identical copies are left out.
    """
    root = root or faces_small_dir()
    train = root / "examples" / "knn_examples" / "train"
    candidates: list[LabelledImage] = []
    for path in list_images(root):
        if train in path.parents:
            candidates.append(LabelledImage(path, path.parent.name))
        elif (identity := identity_from_name(path)) is not None:
            candidates.append(LabelledImage(path, identity))
    seen: set[str] = set()
    unique: list[LabelledImage] = []
    for item in sorted(candidates, key=lambda i: (train not in i.path.parents, str(i.path))):
        digest = sha256_file(item.path)
        if digest not in seen:
            seen.add(digest)
            unique.append(item)
    return sorted(unique, key=lambda i: str(i.path))


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` once; return its result and the wall time in milliseconds (``time.perf_counter``)."""
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000.0


def median_p95(samples: Iterable[float]) -> tuple[float, float]:
    """Median and 95th percentile (linear interpolation) of ``samples``; NaN when empty."""
    values = np.asarray(list(samples), dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(np.median(values)), float(np.percentile(values, 95))


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_summary() -> str:
    """One line naming the CPU, core count, current load and library versions, for benchmark headers."""
    import cv2
    import dlib
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} cores{load}; Python {platform.python_version()}, dlib {dlib.__version__}, "
            f"OpenCV {cv2.__version__}, onnxruntime {onnxruntime.__version__}")


def bench_engine(spec: str, *, threads: int | None = 1):
    """A loaded FaceEngine for ``backend[:option=value,...]``, the name benchmark caches are keyed by.

    Options change one setting of the shipped backend, so a study measures exactly that change:
    ``flip=0|1`` (flip test-time augmentation of an ONNX embedder; ``both``: cache the plain and the
    mirrored crop's embeddings side by side, see :class:`BothViews`), ``dlibbox=det|fit`` (dlib's
    shape predictor on the detector's box, or on the fitted template box of
    :data:`sightline.vision.faces.fusion.DLIB_BOX_FIT`), ``yunet=MODEL`` (another
    registered YuNet file, e.g. ``yunet-2023mar``), ``int8=1`` (the embedder's registered ``NAME-int8``
    files, :func:`int8_candidates`). Unknown options are an error.
    """
    from sightline import FaceEngine
    from sightline.models.zoo import COMPONENTS
    from sightline.vision.faces.detectors import YuNetDetector
    from sightline.vision.faces.fusion import DLIB_BOX_FIT

    backend, _, raw = spec.partition(":")
    engine = FaceEngine(backend)
    engine.runtime = type(engine.runtime)(engine.store, providers=engine.runtime.providers, threads=threads)
    engine.load()
    if "int8=1" in raw.split(","):  # the embedder's registered NAME-int8 files (bench/int8.py), detector unchanged
        engine._parts["embedder"] = int8_candidates(engine.runtime).build(COMPONENTS[engine.spec.embedder])
    for item in filter(None, raw.split(",")):
        key, _, value = item.partition("=")
        if key == "int8" and value == "1":
            continue
        if key == "flip" and value == "both":
            engine._parts["embedder"] = BothViews(engine.embedder)
        elif key == "flip":
            engine.embedder.flip = value == "1"  # type: ignore[attr-defined]
        elif key == "dlibbox":
            engine.embedder.box_from_landmarks = DLIB_BOX_FIT if value == "fit" else None  # type: ignore
        elif key == "yunet":
            engine._parts["detector"] = YuNetDetector(engine.runtime.path(value))
        else:
            raise ConfigError(f"unknown bench engine option {key!r} in {spec!r}")
    return engine


def int8_candidates(runtime):
    """A copy of ``runtime`` that loads each model's registered ``NAME-int8`` file where one exists, shipped or not."""
    from sightline.models.registry import REGISTRY
    from sightline.models.zoo import Runtime

    class Int8Candidates(Runtime):
        def model_name(self, name: str) -> str:
            return f"{name}-int8" if f"{name}-int8" in REGISTRY else name

    return Int8Candidates(runtime.store, providers=runtime.providers, threads=runtime.threads)


class BothViews:
    """Wraps an ONNX embedder to return ``[plain | mirrored]`` unit embeddings side by side (2 x dim).

    One cached pass then gives both the plain embedding and the flip-TTA one, ``l2(plain + mirrored)``,
    which is what the embedder computes with ``flip=True`` (see :func:`split_views`).
    """

    def __init__(self, embedder) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dim = 2 * embedder.dim

    def embed(self, image: np.ndarray, faces: list) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.inner.crops(image, faces)
        plain = self.inner._run(batch)
        mirrored = self.inner._run(np.ascontiguousarray(batch[:, :, :, ::-1]))
        unit = [v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in (plain, mirrored)]
        return np.concatenate(unit, axis=1).astype(np.float32)


def split_views(vectors: np.ndarray, view: str) -> np.ndarray:
    """From :class:`BothViews` rows: ``plain`` unit embeddings or ``tta`` (flip test-time augmentation)."""
    half = vectors.shape[1] // 2
    chosen = vectors[:, :half] if view == "plain" else vectors[:, :half] + vectors[:, half:]
    return (chosen / np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12)).astype(np.float32)
