"""Frames of one attempt into what the decision needs: one face per frame, its movements, and the
embeddings of the most frontal frames. Refuses clearly when there is no face, a second face, or the face
leaves the picture part-way through the challenge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sightline.checkout import motion
from sightline.checkout.errors import CheckoutError
from sightline.checkout.frames import TimedFrame
from sightline.engine import FaceEngine
from sightline.vision.faces.types import Face
from sightline.vision.liveness import face_scale, yaw_ratio

SECOND_FACE = 0.5  # another face at least this wide (relative to the main one) is a second person
MIN_FACE_PX = 40  # smaller faces are too far away to pay with


@dataclass
class Analysis:
    """Per-frame motion, the embedded (most frontal) frames, and each one's face and pixels."""

    motion: list[motion.FrameMotion]
    faces: list[Face]
    embedded: list[int] = field(default_factory=list)  # indexes into frames/faces
    vectors: list[np.ndarray] = field(default_factory=list)


def _faces_of(engine: FaceEngine, image: np.ndarray) -> list[Face]:
    return sorted(engine.detector.detect(image), key=lambda f: -(f.width * f.height))


def _one_face(faces: list[Face], index: int, total: int, second_before: bool) -> tuple[Face, bool]:
    """The main face and whether a second one is in the picture too (refused when it was in the frame before as
    well: one frame's stray detection, a hand say, is not a person)."""
    if not faces or faces[0].width < MIN_FACE_PX:
        if index == 0:
            raise CheckoutError("no face in the first frame: look at the camera and start again", code="no_face")
        raise CheckoutError(f"the face left the picture during the challenge (frame {index + 1} of {total}): "
                            "stay in front of the camera and start again", code="face_left")
    main = faces[0]
    second = any(f.width >= SECOND_FACE * main.width for f in faces[1:])
    if second and (second_before or total == 1):
        raise CheckoutError(f"two faces in frame {index + 1}: only the person paying may be in front of the "
                            "camera", code="two_faces")
    return main, second


def analyse(engine: FaceEngine, frames: Sequence[TimedFrame], embed_frames: int,
            ear_of: Callable[[np.ndarray, Face], float | None] | None = None) -> Analysis:
    """Detect the one face of every frame, measure its pose, and embed the ``embed_frames`` most frontal."""
    ear_of = ear_of or (lambda image, face: motion.eye_aspect_ratio(image, face.box))  # dlib's 68 points
    start = frames[0].at
    moves, faces = [], []
    second = False
    for index, frame in enumerate(frames):
        face, second = _one_face(_faces_of(engine, frame.image_bgr), index, len(frames), second)
        moves.append(motion.FrameMotion(frame.at - start, yaw_ratio(face), face_scale(face, frame.image_bgr.shape),
                                        ear_of(frame.image_bgr, face)))
        faces.append(face)
    base = float(np.median([m.yaw for m in moves[:motion.BASELINE_FRAMES]]))
    order = sorted(range(len(frames)), key=lambda i: (abs(moves[i].yaw - base), -faces[i].score))
    chosen = sorted(order[:max(1, embed_frames)])
    vectors = [np.asarray(engine.embedder.embed(frames[i].image_bgr, [faces[i]])[0], dtype=np.float32)
               for i in chosen]
    return Analysis(moves, faces, chosen, vectors)
