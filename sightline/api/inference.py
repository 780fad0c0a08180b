"""Face inference for the API, timed per model and stage for ``/metrics``.

These functions block (decode + ONNX/dlib); routes call them through
``AppState.run`` so they execute in the bounded thread pool. With inference
workers (``--inference-workers``), :func:`pooled_faces` runs detection and
embedding in a worker instead, on pixels decoded here.
"""

from __future__ import annotations

import numpy as np

from sightline.api.deps import AppState
from sightline.errors import NoFaceError
from sightline.vision.faces.quality import assess_quality
from sightline.vision.faces.types import Face
from sightline.vision.image_io import load_image


def decode(state: AppState, data: bytes) -> np.ndarray:
    """Bytes to BGR pixels, with the size, format and decompression-bomb checks of ``load_image``."""
    with state.metrics.time_inference("image", "decode"):
        return load_image(data)


def detect(state: AppState, pixels: np.ndarray, *, embed: bool = False) -> list[Face]:
    """All faces with quality (and embeddings if ``embed``)."""
    engine, spec = state.engine, state.engine.spec
    with state.metrics.time_inference(spec.detector, "detect"):
        faces = engine.detector.detect(pixels)
        for face in faces:
            face.quality = assess_quality(pixels, face)
    if embed and faces:
        with state.metrics.time_inference(spec.embedder, "embed"):
            vectors = engine.embedder.embed(pixels, faces)
        for face, vector in zip(faces, vectors, strict=True):
            face.embedding = vector
    return faces


async def pooled_faces(state: AppState, pixels: np.ndarray, mode: str, name: str = "the image") -> list[Face]:
    """Faces from the inference pool (``mode``: ``detect``, ``embed`` or ``main``), with the worker's stage
    times recorded here; ``main`` raises :class:`NoFaceError` (like :func:`main_face`) when there is none."""
    assert state.pool is not None, "pooled_faces needs the inference pool"
    faces, timings = await state.pool.faces(pixels, mode)
    spec = state.engine.spec
    for stage, seconds in timings.items():
        state.metrics.inference.labels(spec.detector if stage == "detect" else spec.embedder, stage).observe(seconds)
    if mode == "main" and not faces:
        raise NoFaceError(f"no face found in {name}")
    return faces


def main_face(state: AppState, pixels: np.ndarray, name: str) -> Face:
    """The largest face, embedded; :class:`NoFaceError` if there is none."""
    engine, spec = state.engine, state.engine.spec
    with state.metrics.time_inference(spec.detector, "detect"):
        faces = engine.detector.detect(pixels)
    if not faces:
        raise NoFaceError(f"no face found in {name}")
    face = max(faces, key=lambda f: f.width * f.height)
    face.quality = assess_quality(pixels, face)
    with state.metrics.time_inference(spec.embedder, "embed"):
        face.embedding = engine.embedder.embed(pixels, [face])[0]
    return face
