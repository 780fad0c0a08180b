"""The driver's face in vehicle passages, on real car and face photos: driver side, unknown drivers blurred,
and frames without a vehicle (bad input) giving no passage."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from plates_support import truth
from plates_video_support import pan_zoom, paste_driver

from sightline.gallery.gallery import Gallery
from sightline.plates.config import PlatesConfig
from sightline.video.runner import build_pipeline, run
from sightline.video.sources import Frame

FRAMES = 6


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, faces_dir, engine):
    """Obama enrolled (a real person with real photos); Biden is not."""
    home = tmp_path_factory.mktemp("plates-driver")
    with Gallery.open(home, None, engine, actor="test-suite") as opened:
        subject = opened.create_subject(name="Barack Obama", legal_basis="contract", purpose="depot drivers",
                                        retention_days=30)
        train = sorted((faces_dir / "examples" / "knn_examples" / "train" / "obama").iterdir())
        assert all(r.accepted for r in opened.enroll(str(subject["id"]), train))
        yield opened


def passages(gallery, frames, **plates):
    pipeline = build_pipeline("gate", gallery=gallery, classes=["person"], motion=None,
                              plates=PlatesConfig(enabled=True, **plates), snapshot_dir=gallery.home / "snapshots")
    run(pipeline, [Frame(i, i / 5.0, time.time(), image) for i, image in enumerate(frames)])
    return [e for e in pipeline.events if e.type.value == "vehicle_passage"]


def car_with(faces_dir, engine, person: str) -> list[np.ndarray]:
    path, _, _ = truth("eu", "test_002")
    photo = paste_driver(cv2.imread(str(path)), cv2.imread(str(faces_dir / "examples" / person)), engine)
    return [pan_zoom(photo, i, FRAMES, zoom=1.1) for i in range(FRAMES)]


def _similarity(engine, image: np.ndarray, reference: np.ndarray) -> float:
    faces = engine.detect_array(image, embed=True)
    return max((float(f.embedding @ reference) for f in faces if f.embedding is not None), default=0.0)


def test_an_unknown_driver_is_blurred_in_the_snapshot(gallery, faces_dir, engine) -> None:
    frames = car_with(faces_dir, engine, "biden.jpg")
    biden = engine.detect_array(cv2.imread(str(faces_dir / "examples" / "biden.jpg")), embed=True)[0].embedding
    assert _similarity(engine, frames[0], biden) > 0.5  # the pasted face is recognisable in the frames
    found = passages(gallery, frames, driver_side="right")
    assert len(found) == 1
    passage = found[0]
    assert passage.data["driver_face"] is True and passage.subject_id is None and passage.subject_name is None
    snapshot = cv2.imread(passage.snapshot)
    assert _similarity(engine, snapshot, biden) < 0.3  # stored only blurred


def test_the_driver_is_looked_for_only_on_the_driver_side(gallery, faces_dir, engine) -> None:
    frames = car_with(faces_dir, engine, "obama.jpg")
    right = passages(gallery, frames, driver_side="right")
    left = passages(gallery, frames, driver_side="left")
    assert [p.subject_name for p in right] == ["Barack Obama"]
    assert [(p.subject_id, p.data["driver_face"]) for p in left] == [(None, False)]
    assert right[0].data["plate_hash"] == left[0].data["plate_hash"]


def test_no_driver_is_identified_where_the_camera_does_not_recognise_faces(gallery, faces_dir, engine) -> None:
    frames = car_with(faces_dir, engine, "obama.jpg")
    pipeline = build_pipeline("gate", gallery=gallery, classes=["person"], motion=None, face_recognition=False,
                              plates=PlatesConfig(enabled=True), snapshot_dir=gallery.home / "snapshots")
    run(pipeline, [Frame(i, i / 5.0, time.time(), image) for i, image in enumerate(frames)])
    found = [e for e in pipeline.events if e.type.value == "vehicle_passage"]
    assert [(p.subject_id, p.data["driver_face"]) for p in found] == [(None, True)]
    assert cv2.imread(found[0].snapshot) is not None


def test_frames_without_a_vehicle_give_no_passage(gallery, faces_dir) -> None:
    photo = cv2.imread(str(faces_dir / "examples" / "two_people.jpg"))
    assert passages(gallery, [photo] * 4) == []
