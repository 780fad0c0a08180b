"""Per-camera calibration: estimate a camera's impostor score distribution from its own footage.

Faces seen in the footage are embedded in memory only and compared with the cohort (faces of people
who are certainly not enrolled, so every comparison is an impostor trial under this camera's
conditions). With cohort z-scores the cohort is split in two: one half normalises, the other half
gives the impostor trials. The embeddings are zeroed and dropped as soon as the curve is fitted;
what is kept is the curve (threshold/rate knots) and counts. The caller stores the point and audits
the run with counts only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sightline.calibration.cohort import Cohort
from sightline.calibration.conditions import detect_condition
from sightline.calibration.impostor import ImpostorCurve
from sightline.errors import ConfigError, SightlineError
from sightline.vision.image_io import load_image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
MIN_FACES = 20


class CalibrationError(SightlineError):
    """Not enough usable faces to calibrate (or no cohort to compare them with)."""

    code = "calibration_failed"
    exit_code = 2


@dataclass(frozen=True)
class CameraEstimate:
    """The outcome of one calibration run: the curve and counts (never a face or an embedding)."""

    camera: str
    score_kind: str
    curve: ImpostorCurve
    frames: int
    faces_seen: int
    faces_used: int
    faces_refused: int  # too poor to decide: not used, as they will never be named either
    conditions: dict[str, int]

    def counts(self) -> dict[str, object]:
        return {"camera": self.camera, "frames": self.frames, "faces_seen": self.faces_seen,
                "faces_used": self.faces_used, "faces_refused": self.faces_refused,
                "conditions": dict(sorted(self.conditions.items())), "trials": self.curve.trials,
                "score_kind": self.score_kind}


def frames_from(source: str, *, fps: float = 2.0, max_frames: int = 600) -> Iterator[np.ndarray]:
    """BGR frames of a folder of images, one image, or a video file/stream (sampled at ``fps``)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"{source}: no images in this folder", code="not_found")
        for file in files[:max_frames]:
            yield load_image(file)
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        yield load_image(path)
        return
    from sightline.video.sources import FrameSource

    with FrameSource(source, fps=fps) as frames:
        for i, frame in enumerate(frames):
            if i >= max_frames:
                break
            yield frame.image_bgr


def estimate(camera: str, frames: Iterable[np.ndarray], engine, cohort: Cohort, *, score_kind: str = "cohort-z",
             max_faces: int = 2000, min_faces: int = MIN_FACES) -> CameraEstimate:
    """Embed the faces in ``frames`` (memory only), score them against the cohort, fit the impostor curve."""
    if cohort.dim != engine.embedding_dim:
        raise CalibrationError(f"the cohort has {cohort.dim}-D embeddings, the {engine.backend} backend makes "
                               f"{engine.embedding_dim}-D: rebuild the cohort with this backend",
                               code="embedding_mismatch")
    vectors = np.zeros((max_faces, engine.embedding_dim), np.float32)
    used = seen = refused = n_frames = 0
    conditions: dict[str, int] = {}
    try:
        for pixels in frames:
            n_frames += 1
            for face in engine.detect_array(pixels, embed=True):
                seen += 1
                condition = detect_condition(pixels, face)
                if condition.poor:
                    refused += 1
                elif used < max_faces:
                    conditions[condition.name] = conditions.get(condition.name, 0) + 1
                    vectors[used] = face.embedding
                    used += 1
                face.embedding = None
            pixels = None
        if used < min_faces:
            raise CalibrationError(f"camera {camera!r}: only {used} usable faces seen ({seen} detected, {refused} too "
                                   f"poor) in {n_frames} frames; at least {min_faces} are needed")
        curve = _fit(vectors[:used], cohort, score_kind)
    finally:
        vectors.fill(0.0)  # the only copy of the faces' embeddings: gone before anything is stored
    return CameraEstimate(camera, score_kind, curve, n_frames, seen, used, refused, conditions)


def _fit(probes: np.ndarray, cohort: Cohort, score_kind: str) -> ImpostorCurve:
    """Impostor trials: probes x odd cohort rows, z-normalised by the probes' scores against the even rows."""
    scores = probes @ cohort.vectors[1::2].T
    reference = probes @ cohort.vectors[0::2].T
    try:
        if score_kind == "cosine":
            return ImpostorCurve.fit(scores)
        mean, std = reference.mean(axis=1), np.maximum(reference.std(axis=1), 1e-6)
        return ImpostorCurve.fit((scores - mean[:, None]) / std[:, None])
    finally:
        scores.fill(0.0)
        reference.fill(0.0)
