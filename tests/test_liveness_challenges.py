"""Challenge primitives on real faces: eye openness and blinks (fr_landmark), head turn and face scale (YuNet).

Closed-eye photos: LFW images whose eyes are shut (checked by eye), each with an open-eye photo of the
same person. Head turns: the Hamilton clip of faces-small, where Lin-Manuel Miranda turns his head to
his right (frames 100-135) after facing the camera (frames 86-99).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA

from sightline.models.liveness import build_landmarks68
from sightline.models.store import ModelStore
from sightline.vision.faces.detectors import YuNetDetector
from sightline.vision.liveness.eyes import BlinkDetector, ear_from_landmarks
from sightline.vision.liveness.head_pose import face_scale, head_turn, moved_closer, turned, yaw_ratio

LFW = DATA / "lfw" / "images"
CLIP = DATA / "faces-small" / "examples" / "short_hamilton_clip.mp4"
# (eyes closed, same person with eyes open), checked by eye
CLOSED_OPEN = [("Rubens_Barrichello_0012", "Rubens_Barrichello_0006"), ("Roseanne_Barr_0002", "Roseanne_Barr_0003"),
               ("John_Paul_II_0008", "John_Paul_II_0010"), ("Erika_Harold_0003", "Erika_Harold_0005"),
               ("Ray_Allen_0002", "Ray_Allen_0001"), ("Edmund_Stoiber_0009", "Edmund_Stoiber_0012"),
               ("Alex_Barros_0002", "Alex_Barros_0001")]


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> YuNetDetector:
    return YuNetDetector(str(models_dir / "yunet" / "face_detection_yunet_2023mar.onnx"))


@pytest.fixture(scope="module")
def landmarks(models_dir: Path):
    return build_landmarks68(store=ModelStore(models_dir))


def _lfw_face(detector: YuNetDetector, stem: str):
    image = cv2.imread(str(LFW / stem.rsplit("_", 1)[0] / f"{stem}.jpg"))
    assert image is not None, stem
    faces = detector.detect(image)
    return image, min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - 125) + abs((f.box[1] + f.box[3]) / 2 - 125))


def _clip_frames(first: int, last: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    for index in range(last + 1):
        ok, frame = capture.read()
        assert ok, index
        if index >= first:
            frames.append(frame)
    capture.release()
    return frames


def _main_face(detector: YuNetDetector, frame: np.ndarray):
    faces = detector.detect(frame)
    return max(faces, key=lambda f: f.width * f.height) if faces else None


def test_landmarks_land_on_the_face(landmarks, detector, faces_dir: Path):
    """The 68 points' eye centres agree with YuNet's eyes and the points lie inside the face box."""
    for name in ("obama.jpg", "biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png"):
        image = cv2.imread(str(faces_dir / "examples" / name))
        face = _main_face(detector, image)
        points = landmarks.landmarks(image, face)
        eye_distance = np.linalg.norm(face.landmarks[0] - face.landmarks[1])
        assert np.linalg.norm(points[36:42].mean(0) - face.landmarks[0]) < 0.2 * eye_distance, name
        assert np.linalg.norm(points[42:48].mean(0) - face.landmarks[1]) < 0.2 * eye_distance, name
        x1, y1, x2, y2 = face.box
        assert ((points[:, 0] > x1 - 0.1 * (x2 - x1)) & (points[:, 0] < x2 + 0.1 * (x2 - x1))).all(), name
        assert 0.2 < landmarks.eye_aspect_ratio(image, face) < 0.5, name  # open eyes in these photos


def test_closed_eyes_have_a_low_eye_aspect_ratio(landmarks, detector):
    for closed, opened in CLOSED_OPEN:
        ear_closed = landmarks.eye_aspect_ratio(*_lfw_face(detector, closed))
        ear_open = landmarks.eye_aspect_ratio(*_lfw_face(detector, opened))
        assert ear_closed < 0.15 and ear_open > 0.2 and ear_closed < 0.6 * ear_open, (closed, ear_closed, ear_open)


def test_blink_detector_on_real_eye_values(landmarks, detector):
    """Open, open, closed, open (each value measured on a real photo of the same person) is one blink."""
    blinks = BlinkDetector()
    for closed, opened in CLOSED_OPEN:
        ear_closed = landmarks.eye_aspect_ratio(*_lfw_face(detector, closed))
        ear_open = landmarks.eye_aspect_ratio(*_lfw_face(detector, opened))
        found = blinks.blinks([ear_open, ear_open, ear_closed, ear_closed, ear_open, ear_open])
        assert len(found) == 1 and found[0].closed_at == 2 and found[0].reopened_at == 4, closed
        assert not blinks.blinked([ear_open] * 6)
        assert not blinks.blinked([ear_closed, ear_closed, ear_open, ear_open])  # never seen open before closing
        assert not blinks.blinked([ear_open, ear_open, ear_closed, ear_closed])  # never reopened
        assert not blinks.blinked([ear_open, ear_closed, None, ear_open])  # the face was lost mid-blink


def test_no_blink_in_the_hamilton_clip_smiles_and_turns(landmarks, detector):
    """Frames 82-135: squinting while singing and turning the head are not blinks (checked by eye: none)."""
    ears = []
    for frame in _clip_frames(82, 135):
        face = _main_face(detector, frame)
        ears.append(landmarks.eye_aspect_ratio(frame, face) if face else None)
    assert sum(e is not None for e in ears) >= 50
    assert BlinkDetector().blinks(ears) == []


def test_head_turn_in_the_hamilton_clip(detector):
    frames = _clip_frames(86, 135)
    yaws = [yaw_ratio(face) if (face := _main_face(detector, frame)) else None for frame in frames]
    assert turned(yaws, "right") and not turned(yaws, "left")
    assert turned(yaws, "left", mirrored=True) and not turned(yaws, "right", mirrored=True)
    assert not turned(yaws[25:], "right")  # already turned at the start: no frontal frame first
    assert head_turn(yaws[0]) == "frontal"
    mirrored = [yaw_ratio(_main_face(detector, cv2.flip(frame, 1))) for frame in frames[::10]]
    # a mirror image mirrors the yaw (YuNet itself is not exactly mirror-symmetric: up to 0.1 apart)
    np.testing.assert_allclose(mirrored, [-y for y in yaws[::10]], atol=0.12)


def test_move_closer_from_face_scale(detector):
    """The same shot (frames 60-81) does not grow; a zoom into a real photo (what moving closer looks like) does."""
    scales, centre = [], np.array([200.0, 100.0])  # follow the singer on the left (another face comes and goes)
    for frame in _clip_frames(60, 81):
        faces = detector.detect(frame)
        face = min(faces, key=lambda f: np.hypot(*(np.array(f.box[:2]) - centre)))
        centre = np.array(face.box[:2])
        scales.append(face_scale(face, frame.shape))
    assert len(scales) == 22 and not moved_closer(scales)
    photo = cv2.imread(str(DATA / "faces-small" / "examples" / "obama-1080p.jpg"))
    face = _main_face(detector, photo)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    h, w = photo.shape[:2]
    zoomed = []
    for crop in (1.0, 0.8, 0.6):  # a camera's view as the face comes closer: centre crops, at 640x360
        x0 = int(np.clip(cx - crop * w / 2, 0, w * (1 - crop)))
        y0 = int(np.clip(cy - crop * h / 2, 0, h * (1 - crop)))
        view = cv2.resize(photo[y0:y0 + int(crop * h), x0:x0 + int(crop * w)], (640, 360), interpolation=cv2.INTER_AREA)
        zoomed.append(face_scale(_main_face(detector, view), view.shape))
    assert moved_closer(zoomed) and zoomed[-1] > 1.3 * zoomed[0]


def test_bad_input(landmarks):
    with pytest.raises(ValueError):
        ear_from_landmarks(np.zeros((5, 2)))
    with pytest.raises(ValueError):
        turned([0.0], "up")


def test_landmarks_refuse_a_box_outside_the_image(landmarks, faces_dir: Path):
    from sightline.errors import ImageError
    from sightline.vision.faces.types import Face

    image = cv2.imread(str(faces_dir / "examples" / "obama.jpg"))
    with pytest.raises(ImageError):
        landmarks.eye_aspect_ratio(image, Face(box=(5000, 5000, 5100, 5100), score=1.0, landmarks=np.zeros((5, 2))))
