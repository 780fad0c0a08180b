"""Head turn and face scale from a detector's five landmarks (the "turn left/right" and "move closer" challenges).

Yaw is measured as in the face-quality score: the nose tip's offset from the midpoint of the eyes,
along the line through the eyes, in inter-ocular distances. 0 is frontal; it grows past 1 towards a
profile (the eyes' distance shrinks as the head turns). In a camera frame that is **not mirrored**, a
person turning to their own left moves their nose towards the image's right: positive yaw. On the
Hamilton clip (faces-small) a clearly turned head reads 0.35-0.55, a near-frontal one under 0.15.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sightline.vision.faces.types import Face

TURN_RATIO = 0.3  # |yaw| from which a head counts as turned
FRONTAL_RATIO = 0.15  # |yaw| up to which it counts as facing the camera
CLOSER_FACTOR = 1.25  # "move closer": the face grows at least this much


def yaw_ratio(face: Face) -> float:
    """Signed yaw: nose offset from the eye midpoint in inter-ocular distances (+: nose towards image right)."""
    eye_a, eye_b, nose = (np.asarray(face.landmarks[i], dtype=np.float64) for i in (0, 1, 2))
    distance = float(np.linalg.norm(eye_b - eye_a))
    if distance <= 1e-6:
        return 0.0
    direction = (eye_b - eye_a) / distance
    return float(np.dot(nose - (eye_a + eye_b) / 2.0, direction) / distance)


def head_turn(yaw: float, *, mirrored: bool = False, threshold: float = TURN_RATIO) -> str:
    """``"left"``, ``"right"`` (the person's own left/right) or ``"frontal"``/``"between"`` for a yaw.

    ``mirrored``: the frame is a selfie-style mirror image (as a browser preview often shows it).
    """
    signed = -yaw if mirrored else yaw
    if signed >= threshold:
        return "left"
    if signed <= -threshold:
        return "right"
    return "frontal" if abs(yaw) <= FRONTAL_RATIO else "between"


def face_scale(face: Face, image_shape: Sequence[int]) -> float:
    """Face height as a fraction of the frame height (does not change with yaw, unlike the eye distance)."""
    height = float(image_shape[0])
    if height <= 0:
        raise ValueError("image height must be positive")
    return float(face.box[3] - face.box[1]) / height


def turned(yaws: Sequence[float | None], direction: str, *, mirrored: bool = False,
           threshold: float = TURN_RATIO) -> bool:
    """True when the head is frontal, then turned to ``direction`` (``left``/``right``) in this frame order."""
    if direction not in ("left", "right"):
        raise ValueError(f"direction must be 'left' or 'right', got {direction!r}")
    seen_frontal = False
    for yaw in yaws:
        if yaw is None:
            continue
        pose = head_turn(yaw, mirrored=mirrored, threshold=threshold)
        if pose == "frontal":
            seen_frontal = True
        elif seen_frontal and pose == direction:
            return True
    return False


def moved_closer(scales: Sequence[float | None], *, factor: float = CLOSER_FACTOR) -> bool:
    """True when the face grew by ``factor`` from its smallest size to a later frame."""
    smallest = float("inf")
    for scale in scales:
        if scale is None:
            continue
        if scale >= smallest * factor:
            return True
        smallest = min(smallest, scale)
    return False
