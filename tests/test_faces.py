"""The face engine on real photos: detection counts, landmarks, quality, embeddings, verification."""

from __future__ import annotations

import numpy as np
import pytest

from sightline import FaceEngine
from sightline.errors import ConfigError, NoFaceError
from sightline.models.zoo import FACE_BACKENDS as BACKENDS
from sightline.models.zoo import resolve_backend
from sightline.vision.faces.thresholds import THRESHOLDS


def test_default_backend_is_yunet_fused_when_files_present(engine) -> None:
    # the measured best permissive backend (README: LFW view 2 and open-set tables): dlib 128-D + MobileFace 256-D
    assert engine.backend == "yunet-fused"
    assert engine.embedding_dim == 128 + 256


def test_every_backend_has_a_calibrated_threshold() -> None:
    assert set(BACKENDS) == set(THRESHOLDS)


def test_unknown_backend_is_a_clear_error(models_dir) -> None:
    with pytest.raises(ConfigError, match="unknown face backend"):
        FaceEngine("nonsense", models_dir=str(models_dir))


def test_auto_falls_back_to_zero_download_backend(tmp_path, monkeypatch) -> None:
    from sightline.models.store import ModelStore

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    store = ModelStore(tmp_path)  # an empty models folder: only pip-shipped models are found
    assert resolve_backend("auto", store).name == "dlib"


@pytest.mark.parametrize("backend", ["engine", "hog_engine"])
def test_group_photo_has_six_faces(request, faces_dir, backend) -> None:
    faces = request.getfixturevalue(backend).detect(faces_dir / "group_six_people.jpg")
    assert len(faces) == 6
    boxes = np.array([f.box for f in faces])
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert boxes[:, 2].max() <= 1280 and boxes[:, 3].max() <= 886


def test_landmarks_lie_inside_their_box_in_anatomical_order(engine, faces_dir) -> None:
    for face in engine.detect(faces_dir / "examples/two_people.jpg"):
        x1, y1, x2, y2 = face.box
        (ex1, ey1), (ex2, ey2), (nx, ny), (mx1, my1), (mx2, my2) = face.landmarks
        assert x1 <= ex1 < ex2 <= x2, "eyes ordered left to right in the image"
        assert max(ey1, ey2) < ny < min(my1, my2) <= y2, "eyes above nose above mouth"
        assert mx1 < mx2


def test_quality_prefers_large_sharp_frontal_faces(engine, faces_dir) -> None:
    big = engine.detect(faces_dir / "examples/obama-1080p.jpg")[0].quality
    small = engine.detect(faces_dir / "examples/obama-240p.jpg")[0].quality
    assert big.face_pixels > small.face_pixels
    assert big.size >= small.size
    assert 0.0 <= small.score <= big.score <= 1.0
    assert abs(big.yaw) < 0.3


def test_blur_lowers_sharpness(engine, faces_dir) -> None:
    import cv2

    from sightline.vision.image_io import load_image

    image = load_image(faces_dir / "examples/obama-720p.jpg")
    sharp = engine.detect(image)[0].quality.sharpness
    blurred = engine.detect(cv2.GaussianBlur(image, (0, 0), 6))[0].quality.sharpness
    assert blurred < sharp * 0.5


def test_embeddings_are_unit_float32(engine, faces_dir) -> None:
    faces = engine.detect(faces_dir / "group_six_people.jpg", embed=True)
    vectors = np.stack([f.embedding for f in faces])
    assert vectors.dtype == np.float32 and vectors.shape == (6, engine.embedding_dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    off_diagonal = sims[~np.eye(6, dtype=bool)]
    assert off_diagonal.max() < engine.threshold, "six different people must not match each other"


def test_rgb_and_bgr_arrays_give_the_same_result(engine, faces_dir) -> None:
    from sightline.vision.image_io import load_image

    bgr = load_image(faces_dir / "examples/obama-480p.jpg")
    a = engine.embed(bgr)
    b = engine.embed(np.ascontiguousarray(bgr[:, :, ::-1]), color="rgb")
    assert float(a @ b) > 0.9999


def test_image_bytes_and_path_agree(engine, faces_dir) -> None:
    path = faces_dir / "examples/biden.jpg"
    assert float(engine.embed(path) @ engine.embed(path.read_bytes())) > 0.9999


SAME = [
    ("examples/knn_examples/test/obama1.jpg", "examples/knn_examples/train/obama/obama2.jpg"),
    ("tests/test_images/obama3.jpg", "examples/obama.jpg"),
    ("examples/knn_examples/test/alex_lacamoire1.jpg", "examples/alex-lacamoire.png"),
    ("examples/knn_examples/test/johnsnow_test1.jpg", "examples/knn_examples/train/kit_harington/john2.jpeg"),
    ("examples/knn_examples/train/biden/biden2.jpg", "examples/biden.jpg"),
    ("examples/knn_examples/train/rose_leslie/img1.jpg", "examples/knn_examples/train/rose_leslie/img2.jpg"),
]
DIFFERENT = [
    ("examples/obama.jpg", "examples/biden.jpg"),
    ("examples/knn_examples/test/alex_lacamoire1.jpg", "examples/lin-manuel-miranda.png"),
    ("examples/knn_examples/train/rose_leslie/img1.jpg", "examples/knn_examples/test/johnsnow_test1.jpg"),
    ("examples/knn_examples/test/obama1.jpg", "examples/knn_examples/train/kit_harington/john1.jpeg"),
    ("examples/alex-lacamoire.png", "examples/knn_examples/train/biden/biden2.jpg"),
]


@pytest.mark.parametrize("backend", ["engine", "hog_engine"])
@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_verifies(request, faces_dir, backend, a, b) -> None:
    result = request.getfixturevalue(backend).verify(faces_dir / a, faces_dir / b)
    assert result.same_person, f"{a} vs {b}: similarity {result.similarity:.3f} < {result.threshold}"


@pytest.mark.parametrize("backend", ["engine", "hog_engine"])
@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_people_do_not_verify(request, faces_dir, backend, a, b) -> None:
    result = request.getfixturevalue(backend).verify(faces_dir / a, faces_dir / b)
    assert not result.same_person, f"{a} vs {b}: similarity {result.similarity:.3f} >= {result.threshold}"


def test_verify_accepts_embeddings(engine, faces_dir) -> None:
    a = engine.embed(faces_dir / "examples/obama.jpg")
    result = engine.verify(a, faces_dir / "examples/obama2.jpg")
    assert result.same_person and result.face_a is None and result.face_b is not None
    payload = result.to_dict()
    assert set(payload) == {"similarity", "same_person", "threshold", "backend", "face_a", "face_b"}


def test_image_without_a_face(engine, objects_dir) -> None:
    assert engine.detect(objects_dir / "dog.jpg") == []
    with pytest.raises(NoFaceError):
        engine.embed(objects_dir / "dog.jpg")


def test_partial_face_does_not_crash(engine, faces_dir) -> None:
    for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg"):
        faces = engine.detect(faces_dir / "tests/test_images" / name)
        assert all(0 <= f.quality.score <= 1 for f in faces)


def test_blank_and_tiny_images_give_no_faces(engine) -> None:
    assert engine.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert engine.detect(np.full((3, 3, 3), 128, np.uint8)) == []


def test_engine_is_thread_safe(engine, faces_dir) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = faces_dir / "examples/obama-480p.jpg"
    reference = engine.embed(path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: engine.embed(path), range(8)))
    assert all(float(r @ reference) > 0.9999 for r in results)


def test_public_api_names_and_lazy_gallery() -> None:
    import subprocess
    import sys

    code = ("import sys, sightline; lazy = 'sightline.gallery.gallery' not in sys.modules; "
            "from sightline import FaceEngine, Gallery, ObjectDetector; "
            "print(lazy, Gallery.__name__, hasattr(Gallery, 'open'), callable(ObjectDetector.detect))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "Gallery", "True", "True"]
