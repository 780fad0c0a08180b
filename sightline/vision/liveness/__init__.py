"""Liveness primitives: presentation-attack detection (MiniFASNet), eye openness and head pose for challenges.

Build the runnable objects with :mod:`sightline.models.liveness` (``build_passive_liveness``,
``build_landmarks68``): it verifies the weights against the catalogue and opens the sessions.
"""

from sightline.vision.liveness.eyes import Blink, BlinkDetector, Landmarks68, ear_from_landmarks
from sightline.vision.liveness.head_pose import face_scale, head_turn, moved_closer, turned, yaw_ratio
from sightline.vision.liveness.passive import CELEBASPOOF_WARNING, LivenessNet, LivenessScore, PassiveLiveness
from sightline.vision.liveness.pth import PthError, load_state_dict

__all__ = ["CELEBASPOOF_WARNING", "Blink", "BlinkDetector", "Landmarks68", "LivenessNet", "LivenessScore",
           "PassiveLiveness", "PthError", "ear_from_landmarks", "face_scale", "head_turn", "load_state_dict",
           "moved_closer", "turned", "yaw_ratio"]
