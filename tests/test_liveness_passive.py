"""Passive liveness on the real models: the converted MiniFASNets reproduce upstream's decisions on its samples,
real photos score live, the conversion is cached by source hash, and the CelebA-Spoof model is opt-in."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from conftest import DATA

from sightline.errors import ConfigError, ImageError, ModelError, NoFaceError
from sightline.models.liveness import build_passive_liveness, minifasnet_onnx
from sightline.models.store import ModelStore
from sightline.vision.faces.detectors import YuNetDetector
from sightline.vision.liveness.crops import minifasnet_crop
from sightline.vision.liveness.minifasnet import build_onnx, converted_path
from sightline.vision.liveness.passive import CELEBASPOOF_WARNING
from sightline.vision.liveness.pth import load_state_dict

SAMPLES = DATA / "antispoof-samples"


@pytest.fixture(scope="module")
def store(models_dir: Path, tmp_path_factory) -> ModelStore:
    store = ModelStore(models_dir)
    store.cache_dir = tmp_path_factory.mktemp("models-cache")
    return store


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> YuNetDetector:
    return YuNetDetector(str(models_dir / "yunet" / "face_detection_yunet_2023mar.onnx"))


@pytest.fixture(scope="module")
def passive(store: ModelStore):
    return build_passive_liveness(store=store)


def _main_face(detector: YuNetDetector, path: Path):
    image = cv2.imread(str(path))
    assert image is not None, path
    faces = detector.detect(image)
    assert faces, path
    return image, max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def test_reproduces_upstreams_decisions_on_its_samples(passive, detector):
    """Upstream (minivision's test.py) calls image_F1 and image_F2 fake and image_T1 real."""
    scores = {name: passive.score(*_main_face(detector, SAMPLES / f"{name}.jpg"))
              for name in ("image_F1", "image_F2", "image_T1")}
    assert not scores["image_F1"].is_live and not scores["image_F2"].is_live
    assert scores["image_T1"].is_live and scores["image_T1"].live > 0.99
    assert scores["image_F2"].live < 0.05
    assert set(scores["image_T1"].per_model) == {"minifasnet-v2", "minifasnet-v1se"}
    assert scores["image_T1"].model == "minifasnet" and not scores["image_T1"].warning


def test_real_face_photos_score_live(passive, detector, faces_dir: Path):
    photos = ["examples/obama.jpg", "examples/biden.jpg", "examples/alex-lacamoire.png",
              "examples/lin-manuel-miranda.png", "examples/obama-240p.jpg", "examples/two_people.jpg",
              "tests/test_images/obama3.jpg", "examples/knn_examples/train/rose_leslie/img1.jpg"]
    for photo in photos:
        image = cv2.imread(str(faces_dir / photo))
        for face in detector.detect(image):
            score = passive.score(image, face)
            assert score.is_live, (photo, face.box, score)


def test_batch_scores_equal_single_scores(passive, detector, faces_dir: Path):
    image = cv2.imread(str(faces_dir / "group_six_people.jpg"))
    faces = detector.detect(image)
    assert len(faces) == 6
    batch = passive.score_many(image, faces)
    for face, score in zip(faces, batch, strict=True):
        assert abs(passive.score(image, face).live - score.live) < 1e-5


def test_folded_batchnorm_equals_the_unfolded_graph(store: ModelStore, detector):
    """Folding BatchNorm into the convolutions changes nothing but rounding (checked on real crops)."""
    image, face = _main_face(detector, SAMPLES / "image_T1.jpg")
    spoof, spoof_face = _main_face(detector, SAMPLES / "image_F2.jpg")
    for name, file, scale in (("minifasnet-v2", "2.7_80x80_MiniFASNetV2.pth", 2.7),
                              ("minifasnet-v1se", "4_0_0_80x80_MiniFASNetV1SE.pth", 4.0)):
        weights = load_state_dict(store.path(name))
        batch = np.stack([minifasnet_crop(image, face.box, scale), minifasnet_crop(spoof, spoof_face.box, scale)])
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2).astype(np.float32))
        outs = [ort.InferenceSession(build_onnx(weights, fold_batchnorm=fold).SerializeToString()).run(
            None, {"input": batch})[0] for fold in (True, False)]
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
        assert outs[0][0].argmax() == 1 and outs[0][1].argmax() != 1, file


def test_conversion_is_cached_by_source_hash_and_rebuilt_when_tampered(store: ModelStore):
    path = minifasnet_onnx("minifasnet-v2", store)
    assert path == converted_path(store.cache_dir, store.path("minifasnet-v2"),
                                  "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0")
    assert path.with_suffix(".json").is_file()
    before = path.stat().st_mtime_ns
    assert minifasnet_onnx("minifasnet-v2", store) == path and path.stat().st_mtime_ns == before  # reused
    original = path.read_bytes()
    path.write_bytes(original[:1000])  # a truncated cache file is not trusted
    assert minifasnet_onnx("minifasnet-v2", store).read_bytes() == original


def test_a_pth_that_does_not_match_the_catalogue_is_refused(models_dir: Path, tmp_path: Path):
    fake = tmp_path / "models"
    target = fake / "antispoof" / "minifasnet-official" / "2.7_80x80_MiniFASNetV2.pth"
    target.parent.mkdir(parents=True)
    shutil.copyfile(models_dir / "antispoof" / "minifasnet-official" / "4_0_0_80x80_MiniFASNetV1SE.pth", target)
    store = ModelStore(fake)
    store.cache_dir = tmp_path / "cache"
    with pytest.raises(ModelError) as caught:
        build_passive_liveness(store=store)
    assert caught.value.code == "model_corrupt"
    assert not (tmp_path / "cache").exists()  # nothing converted from an unverified file


def test_celebaspoof_is_opt_in_with_its_licence_warning(store: ModelStore, detector, caplog):
    with caplog.at_level(logging.WARNING):
        celeb = build_passive_liveness("minifasnet-celebaspoof", store=store)
    assert "non-commercial" in caplog.text
    spoof = celeb.score(*_main_face(detector, SAMPLES / "image_F1.jpg"))
    live = celeb.score(*_main_face(detector, SAMPLES / "image_T1.jpg"))
    assert not spoof.is_live and live.is_live
    assert live.warning == CELEBASPOOF_WARNING and live.to_dict()["warning"] == CELEBASPOOF_WARNING
    assert build_passive_liveness(store=store).model == "minifasnet"  # the default stays the Apache-2.0 pair


def test_bad_input_gets_clear_errors(passive, store: ModelStore):
    with pytest.raises(ConfigError, match="unknown liveness model"):
        build_passive_liveness("nope", store=store)
    with pytest.raises(NoFaceError):
        passive.score(np.zeros((100, 100, 3), np.uint8), None)
    with pytest.raises(ImageError):
        passive.score_many(np.zeros((100, 100), np.uint8), [])
    assert passive.score_many(np.zeros((100, 100, 3), np.uint8), []) == []


def test_face_boxes_outside_the_image_are_refused(passive, detector):
    """A box from another frame or a garbage box would score whatever it crops: refused instead."""
    from sightline.vision.faces.types import Face

    image, face = _main_face(detector, SAMPLES / "image_T1.jpg")
    h, w = image.shape[:2]
    for box in ((w + 10, h + 10, w + 90, h + 90), (-80, -80, 10, 10), (5, 5, 5.5, 5.5), (0, 0, float("nan"), 9)):
        with pytest.raises(ImageError) as caught:
            passive.score(image, Face(box=box, score=1.0, landmarks=face.landmarks))
        assert caught.value.code == "bad_face_box"
