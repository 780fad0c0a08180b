"""Cheap, explainable face-quality measures: size, sharpness and pose."""

from __future__ import annotations

import math

import cv2
import numpy as np

from sightline.vision.faces.align import align_face
from sightline.vision.faces.types import Face, FaceQuality

MIN_USEFUL_FACE_PX = 32.0  # below this, recognition is unreliable
GOOD_FACE_PX = 100.0  # at or above this, size no longer limits accuracy
SHARP_LAPLACIAN_VAR = 60.0  # variance of the Laplacian of a 112x112 crop that counts as sharp
FRONTAL_YAW = 0.1  # |yaw| up to this (nose offset / eye distance) counts as frontal
PROFILE_YAW = 0.6  # |yaw| from this on counts as profile (pose score 0)


def assess_quality(image: np.ndarray, face: Face) -> FaceQuality:
    """Score a detected face on size, sharpness and pose; ``score`` is their product."""
    face_px = float(min(face.width, face.height))
    size = float(np.clip((face_px - MIN_USEFUL_FACE_PX) / (GOOD_FACE_PX - MIN_USEFUL_FACE_PX), 0.0, 1.0))

    crop = align_face(image, face.landmarks, 112)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    # Only the central face region: background edges would look "sharp".
    laplacian_var = float(cv2.Laplacian(grey[24:104, 24:88], cv2.CV_64F).var())
    sharpness = float(np.clip(laplacian_var / SHARP_LAPLACIAN_VAR, 0.0, 1.0))

    eye_a, eye_b, nose = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    eye_distance = float(np.linalg.norm(eye_b - eye_a)) or 1.0
    eye_mid = (eye_a + eye_b) / 2.0
    direction = (eye_b - eye_a) / eye_distance
    yaw = float(np.dot(nose - eye_mid, direction) / eye_distance)
    roll = math.degrees(math.atan2(float(eye_b[1] - eye_a[1]), float(eye_b[0] - eye_a[0])))
    yaw_score = np.clip(1.0 - (abs(yaw) - FRONTAL_YAW) / (PROFILE_YAW - FRONTAL_YAW), 0.0, 1.0)
    roll_score = np.clip(1.0 - max(abs(roll) - 20.0, 0.0) / 40.0, 0.0, 1.0)  # in-plane tilt is aligned away
    pose = float(yaw_score * roll_score)

    return FaceQuality(
        score=size * sharpness * pose,
        size=size,
        sharpness=sharpness,
        pose=pose,
        face_pixels=face_px,
        yaw=yaw,
        roll_degrees=roll,
    )
