"""Which image condition a face was seen under: colour, grey/IR, low resolution, or too poor to decide.

Measured on the face itself, not guessed from the camera's name:
- grey / IR: the colour channels of the face region are (nearly) equal;
- low resolution: few pixels between the eyes, or little detail in the aligned face (an upscaled small
  face keeps its size in pixels but loses its detail, which the Laplacian variance sees);
- too poor: a face so small, blurred or turned that no threshold holds the target rate with useful
  recall; such faces are refused ("undecided") rather than named.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sightline.vision.faces.align import align_face
from sightline.vision.faces.types import Face, FaceQuality

GREY_CHANNEL_DIFF = 2.0  # mean |B-G| + |G-R| over the face below this (0-255 scale): grey / IR
LOWRES_EYE_PX = 24.0  # fewer pixels between the eye centres than this: low resolution
LOWRES_DETAIL = 100.0  # Laplacian variance of the aligned 112-px face below this: low effective resolution
POOR_EYE_PX = 10.0  # below this nobody is named
POOR_DETAIL = 10.0
POOR_POSE = 0.2

CONDITIONS = ("colour", "grey", "lowres", "grey-lowres")


@dataclass(frozen=True)
class Condition:
    """The condition of one face: ``name`` is one of :data:`CONDITIONS`; ``poor`` means refuse to decide."""

    name: str
    grey: bool
    lowres: bool
    poor: bool
    eye_px: float
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "grey": self.grey, "lowres": self.lowres, "poor": self.poor,
                "eye_px": round(self.eye_px, 1), "reason": self.reason}


def channel_difference(pixels: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Mean absolute difference between neighbouring colour channels inside ``box`` (0 for a grey image)."""
    if pixels.ndim == 2 or pixels.shape[2] == 1:
        return 0.0
    h, w = pixels.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    region = pixels[y1:y2, x1:x2, :3] if x2 > x1 and y2 > y1 else pixels[..., :3]
    region = region[::2, ::2].astype(np.int16)  # every other pixel is plenty
    return float(np.abs(region[..., 0] - region[..., 1]).mean() + np.abs(region[..., 1] - region[..., 2]).mean())


def eye_distance(face: Face) -> float:
    """Pixels between the two eye landmarks."""
    return float(np.linalg.norm(np.asarray(face.landmarks[1]) - np.asarray(face.landmarks[0])))


def face_detail(pixels: np.ndarray, face: Face) -> float:
    """Effective resolution: variance of the Laplacian over the centre of the aligned 112-px face, unclipped.
    A small face (upsampled by the alignment) and a blurred or upscaled one both score low."""
    crop = align_face(pixels if pixels.ndim == 3 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR), face.landmarks, 112)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey[24:104, 24:88], cv2.CV_64F).var())


def classify(grey: bool, eye_px: float, detail: float, pose: float) -> Condition:
    """The condition from its measured parts (pure; used by :func:`detect_condition` and the benchmarks)."""
    lowres = eye_px < LOWRES_EYE_PX or detail < LOWRES_DETAIL
    reasons = []
    if eye_px < POOR_EYE_PX:
        reasons.append(f"eyes {eye_px:.0f} px apart (< {POOR_EYE_PX:.0f})")
    if detail < POOR_DETAIL:
        reasons.append(f"detail {detail:.0f} (< {POOR_DETAIL:.0f})")
    if pose < POOR_POSE:
        reasons.append(f"pose {pose:.2f} (< {POOR_POSE})")
    name = ("grey-" if grey else "") + ("lowres" if lowres else "") if (grey or lowres) else "colour"
    name = name.rstrip("-")
    return Condition(name, grey, lowres, bool(reasons), eye_px, "; ".join(reasons))


def detect_condition(pixels: np.ndarray, face: Face, quality: FaceQuality | None = None) -> Condition:
    """The condition ``face`` was seen under in ``pixels`` (BGR)."""
    q = quality or face.quality
    if q is None:
        from sightline.vision.faces.quality import assess_quality
        q = assess_quality(pixels, face)
    grey = channel_difference(pixels, face.box) < GREY_CHANNEL_DIFF
    return classify(grey, eye_distance(face), face_detail(pixels, face), q.pose)
