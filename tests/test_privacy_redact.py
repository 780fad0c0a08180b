"""Redaction defeats recognition on a real face; the attribute policy refuses demographic inference."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.engine import cosine_similarity
from sightline.errors import ProhibitedUseError, SightlineError
from sightline.privacy.policy import check_attributes
from sightline.privacy.redact import blur_regions
from sightline.vision.image_io import load_image


@pytest.mark.parametrize("method", ["gaussian", "pixelate"])
def test_blurred_face_is_no_longer_recognisable(engine, faces_dir, method):
    image = load_image(faces_dir / "examples" / "two_people.jpg")
    faces = engine.detect_array(image, embed=True)
    assert len(faces) == 2
    original = image.copy()
    redacted = blur_regions(image, [faces[0].box], method=method)
    assert np.array_equal(image, original)  # input untouched
    x1, y1, x2, y2 = (int(v) for v in faces[1].box)
    assert np.array_equal(redacted[y1:y2, x1:x2], image[y1:y2, x1:x2])  # the other face is left alone
    after = engine.detect_array(redacted, embed=True)
    same_place = [f for f in after if abs(f.box[0] - faces[0].box[0]) < faces[0].width / 2]
    for face in same_place:  # if a face is still detected there, it must not match the person
        assert cosine_similarity(face.embedding, faces[0].embedding) < engine.threshold
    kept = [f for f in after if abs(f.box[0] - faces[1].box[0]) < faces[1].width / 2]
    assert kept and cosine_similarity(kept[0].embedding, faces[1].embedding) > 0.99


def test_blur_regions_input_checks():
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    with pytest.raises(SightlineError):
        blur_regions(image.astype(np.float32), [(0, 0, 10, 10)])
    with pytest.raises(SightlineError):
        blur_regions(image, [(0, 0, 10, 10)], method="swirl")
    assert np.array_equal(blur_regions(image, [(60, 60, 90, 90), (10, 10, 10, 10)]), image)  # outside / empty


def test_attribute_policy():
    assert check_attributes(["quality", "Box"]) == ["quality", "box"]
    assert check_attributes(None) == []
    for prohibited in (["age"], ["gender"], ["ethnicity"], ["quality", "race"], ["skin-tone"], ["emotion"]):
        with pytest.raises(ProhibitedUseError):
            check_attributes(prohibited)
    with pytest.raises(SightlineError, match="unknown face attribute"):
        check_attributes(["hair_style"])
