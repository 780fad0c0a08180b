"""Snapshots: every face that is not an enrolled match is blurred (real face engine on a real photo)."""

from __future__ import annotations

import os
import time

import cv2
import numpy as np
import pytest

from sightline.errors import ConfigError, ImageError
from sightline.events.snapshots import BestFrames, SnapshotWriter, box_iou, purge_snapshot_files
from sightline.vision.image_io import load_image

PAD = 0.15  # the redaction helper grows each box by this much of its size
JPEG_MARGIN = 16  # JPEG blocks straddling a blurred border change a little too


@pytest.fixture(scope="module")
def photo(faces_dir):
    return load_image(faces_dir / "examples" / "two_people.jpg")


@pytest.fixture(scope="module")
def faces(engine, photo):
    found = engine.detect_array(photo)
    assert len(found) == 2
    return sorted(found, key=lambda f: f.box[0])


def sharpness(image: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def outside_mask(shape, boxes) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in boxes:
        gx, gy = (x2 - x1) * PAD + JPEG_MARGIN, (y2 - y1) * PAD + JPEG_MARGIN
        mask[max(int(y1 - gy), 0):int(y2 + gy), max(int(x1 - gx), 0):int(x2 + gx)] = False
    return mask


def jpeg_roundtrip(image: np.ndarray, quality: int = 90) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def test_unknown_faces_are_blurred_and_the_rest_is_unchanged(tmp_path, engine, photo, faces):
    writer = SnapshotWriter(tmp_path, face_detector=engine)
    path = writer.write(photo, camera="gate", name="track-1")
    assert path.parent.parent == tmp_path / "gate" and path.suffix == ".jpg"
    snap = cv2.imread(str(path))
    assert snap.shape == photo.shape
    reference = jpeg_roundtrip(photo)
    for face in faces:
        before, after = sharpness(reference, face.box), sharpness(snap, face.box)
        assert after < 0.05 * before, (face.box, before, after)
    assert engine.detect_array(snap) == []  # no face is found in the stored snapshot any more
    mask = outside_mask(photo.shape, [f.box for f in faces])
    diff = np.abs(snap.astype(np.int16) - reference.astype(np.int16))[mask]
    assert mask.mean() > 0.5 and diff.mean() < 0.5 and np.percentile(diff, 99) <= 4


def test_the_enrolled_match_stays_sharp_and_everyone_else_is_blurred(tmp_path, engine, photo, faces):
    writer = SnapshotWriter(tmp_path, face_detector=engine)
    known, stranger = faces
    # The recogniser's box for the enrolled face need not be identical to the detector's.
    matched_box = tuple(v + 4 for v in known.box)
    snap = cv2.imread(str(writer.write(photo, camera="gate", name="t2", enrolled_boxes=[matched_box])))
    reference = jpeg_roundtrip(photo)
    assert sharpness(snap, known.box) > 0.8 * sharpness(reference, known.box)
    assert sharpness(snap, stranger.box) < 0.05 * sharpness(reference, stranger.box)


def test_given_face_boxes_crop_and_opt_out(tmp_path, photo, faces):
    boxes = [f.box for f in faces]
    writer = SnapshotWriter(tmp_path)  # no detector: the caller must pass the boxes
    with pytest.raises(ConfigError, match="face"):
        writer.write(photo, camera="gate", name="x")
    person = (faces[1].box[0] - 60, faces[1].box[1], faces[1].box[2] + 60, photo.shape[0] - 1)
    crop = cv2.imread(str(writer.write(photo, camera="gate", name="crop", faces=boxes, crop=person, crop_margin=0)))
    assert crop.shape[1] == pytest.approx(person[2] - person[0], abs=2)
    sharp_crop = photo[int(person[1]):, int(person[0]):int(np.ceil(person[2]))]
    face_in_crop = (60, 0, 60 + faces[1].width, faces[1].height)
    assert sharpness(crop, face_in_crop) < 0.05 * sharpness(sharp_crop, face_in_crop)
    opted_out = SnapshotWriter(tmp_path, blur_unknown_faces=False)
    clear = cv2.imread(str(opted_out.write(photo, camera="gate", name="clear")))
    assert sharpness(clear, faces[0].box) > 0.8 * sharpness(jpeg_roundtrip(photo), faces[0].box)
    with pytest.raises(ImageError):
        writer.write(np.zeros((0, 0, 3), np.uint8), camera="gate", name="empty", faces=[])


def test_names_cannot_escape_the_snapshot_folder(tmp_path, photo):
    path = SnapshotWriter(tmp_path).write(photo, camera="../../etc", name="../passwd", faces=[])
    assert tmp_path in path.parents and ".." not in path.relative_to(tmp_path).parts


def test_best_frames_keep_the_best_copy_per_track():
    best = BestFrames()
    frame = np.zeros((10, 10, 3), np.uint8)
    assert best.offer(1, frame, (0, 0, 5, 5), 0.5)
    frame[:] = 7  # later changes to the caller's buffer do not leak into the kept copy
    assert not best.offer(1, frame, (0, 0, 5, 5), 0.4)
    assert best.offer(2, frame, (1, 1, 6, 6), 0.9)
    assert best.offer(1, frame, (2, 2, 8, 8), 0.6)
    image, box, _ = best.pop(1)
    assert box == (2, 2, 8, 8) and image.max() == 7
    assert best.pop(1) is None and len(best) == 1


def test_purge_snapshot_files_by_age(tmp_path):
    old, new = tmp_path / "gate" / "2026-01-01" / "a.jpg", tmp_path / "gate" / "2026-11-24" / "b.jpg"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    assert purge_snapshot_files(tmp_path, 7) == 1
    assert not old.exists() and not old.parent.exists() and new.exists()


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
