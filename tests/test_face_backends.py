"""The ONNX face embedders, ArcFace alignment, flip TTA, the fused matcher and dlib's box, on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sightline import FaceEngine
from sightline.models.registry import get_spec
from sightline.models.zoo import FACE_BACKENDS, resolve_backend
from sightline.vision.faces.align import ARCFACE_TEMPLATE_112, align_face, similarity_transform
from sightline.vision.faces.onnx_embedders import FusedEmbedder
from sightline.vision.image_io import load_image

ONNX_BACKENDS = ["yunet-mobileface", "yunet-frfeature", "yunet-insightface"]


@pytest.fixture(scope="module")
def photos(faces_dir):
    ex = faces_dir / "examples"
    return {name: load_image(ex / f"{name}.jpg") for name in ("obama", "obama2", "obama-720p", "biden")}


@pytest.fixture(scope="module")
def engines(models_dir):
    return {name: FaceEngine(name, models_dir=str(models_dir)).load() for name in [*ONNX_BACKENDS, "yunet-fused"]}


def test_similarity_transform_matches_opencv_partial_affine(engine, photos) -> None:
    landmarks = engine.detect(photos["obama"])[0].landmarks
    ours = similarity_transform(landmarks, ARCFACE_TEMPLATE_112)
    theirs, _ = cv2.estimateAffinePartial2D(landmarks, ARCFACE_TEMPLATE_112, method=cv2.LMEDS)
    mapped = landmarks @ ours[:, :2].T + ours[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE_112).max() < 4.0, "landmarks land on the 112 template"
    assert np.allclose(ours, theirs, atol=0.05 * np.abs(theirs).max())


def test_aligned_crop_puts_the_face_on_the_template(engine, photos) -> None:
    crop = align_face(photos["obama-720p"], engine.detect(photos["obama-720p"])[0].landmarks, 112)
    again = engine.detector.detect(cv2.copyMakeBorder(crop, 56, 56, 56, 56, cv2.BORDER_CONSTANT))
    assert again, "the aligned crop still shows a face"
    eyes = again[0].landmarks[:2] - 56
    assert np.abs(eyes - ARCFACE_TEMPLATE_112[:2]).max() < 5.0


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_onnx_backend_separates_people_at_its_threshold(engines, photos, backend) -> None:
    engine = engines[backend]
    same = engine.verify(photos["obama"], photos["obama2"])
    other = engine.verify(photos["obama"], photos["biden"])
    assert same.same_person and not other.same_person
    assert same.similarity - other.similarity > 0.25
    vector = engine.embed(photos["obama"])
    assert vector.dtype == np.float32 and vector.shape == (engine.embedding_dim,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_flip_tta_is_the_sum_of_both_views_and_mirror_invariant(engines, photos, backend) -> None:
    embedder = engines[backend].embedder
    image = photos["obama2"]
    face = engines[backend].detector.detect(image)[:1]
    batch = embedder.crops(image, face)
    plain = embedder._run(batch)[0]
    mirrored = embedder._run(np.ascontiguousarray(batch[:, :, :, ::-1]))[0]
    expected = plain / np.linalg.norm(plain) + mirrored / np.linalg.norm(mirrored)
    was = embedder.flip
    try:
        embedder.flip = True
        tta = embedder.embed(image, face)[0]
        embedder.flip = False
        assert np.allclose(embedder.embed(image, face)[0], plain / np.linalg.norm(plain), atol=1e-5)
    finally:
        embedder.flip = was
    assert np.allclose(tta, expected / np.linalg.norm(expected), atol=1e-5)


def test_fused_cosine_is_the_weighted_z_score_of_its_parts(engines, photos) -> None:
    fused: FusedEmbedder = engines["yunet-fused"].embedder
    detector = engines["yunet-fused"].detector
    faces = {k: detector.detect(photos[k])[:1] for k in ("obama", "obama2", "biden")}
    for a, b in (("obama", "obama2"), ("obama", "biden")):
        parts = [(float(e.embed(photos[a], faces[a])[0] @ e.embed(photos[b], faces[b])[0]), p) for e, p in fused.parts]
        expected = sum(p.weight * (s - p.impostor_mean) / p.impostor_std for s, p in parts)
        cosine = float(fused.embed(photos[a], faces[a])[0] @ fused.embed(photos[b], faces[b])[0])
        assert fused.fused_score(cosine) == pytest.approx(expected, abs=1e-3)
        assert fused.cosine_for(expected) == pytest.approx(cosine, abs=1e-4)
    assert engines["yunet-fused"].verify(photos["obama"], photos["obama2"]).same_person
    assert not engines["yunet-fused"].verify(photos["obama"], photos["biden"]).same_person


def test_non_commercial_embedder_is_opt_in_and_labelled(models_dir) -> None:
    from sightline.models.store import ModelStore

    backend = FACE_BACKENDS["yunet-insightface"]
    assert "NON-COMMERCIAL" in backend.description
    assert get_spec("insightface-mobilefacenet").commercial_use is False
    assert resolve_backend("auto", ModelStore(models_dir)).name != "yunet-insightface"
    for name in FACE_BACKENDS.preference:
        assert all(get_spec(m).commercial_use for m in FACE_BACKENDS[name].models), name


def test_dlib_predictor_box_from_landmarks_is_hog_like(hog_engine, photos) -> None:
    """dlib's shape predictor was trained on HOG boxes: the landmark-placed box must sit closer to HOG's."""
    from sightline.vision.faces.fusion import DLIB_BOX_FIT

    engine = FaceEngine("yunet-dlib").load()
    embedder = engine.embedder
    image = photos["obama-720p"]
    yunet_face = engine.detector.detect(image)[0]
    hog_box = np.array(hog_engine.detector.detect(image)[0].box)
    was = embedder.box_from_landmarks
    try:
        embedder.box_from_landmarks = DLIB_BOX_FIT
        placed = np.array(embedder.predictor_box(yunet_face))
    finally:
        embedder.box_from_landmarks = was
    side = hog_box[2] - hog_box[0]
    assert np.abs(placed - hog_box).max() < 0.1 * side
    assert np.abs(placed - hog_box).max() < np.abs(np.array(yunet_face.box) - hog_box).max()
