"""Plate reading on real plate photos (plates-dev) with the real models: detection, OCR, format rules, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from plates_support import PLATES, iou, truth

from sightline.errors import ImageError
from sightline.vision.image_io import load_image
from sightline.vision.plates.formats import apply_format, normalise
from sightline.vision.plates.ocr import TextRead

EU = ["test_002", "test_004", "test_014", "test_040"]
US = ["0b86cecf-67d1-4fc0-87c9-b36b0ee228bb", "1e241dc8-8f18-4955-8988-03a0ab49f813",
      "22e54a62-57a8-4a0a-88c1-4b9758f67651", "3850ba91-3c64-4c64-acba-0c46b61ec0da"]


@pytest.fixture(scope="module")
def readers():
    from sightline.plates.service import build_plate_reader

    assert PLATES.is_dir(), f"test data missing: {PLATES}"
    return {"eu": build_plate_reader("eu"), "us": build_plate_reader("us")}


def _matching(reads, box):
    return [r for r in reads if iou(r.box, box) >= 0.5]


@pytest.mark.parametrize(("region", "stem"), [("eu", s) for s in EU] + [("us", s) for s in US])
def test_reads_real_plates_exactly(readers, region, stem):
    path, box, plate = truth(region, stem)
    reads = readers[region].read(load_image(path))
    found = _matching(reads, box)
    assert found, f"plate of {path.name} not detected: {[r.to_dict() for r in reads]}"
    read = found[0]
    assert read.text == plate, read.to_dict()
    assert 0.0 < read.confidence <= 1.0


def test_us_plate_needs_the_vehicle_pass(readers):
    """On a 1080p frame a US plate is ~60 px wide: LPD-YuNet at 320x240 misses it; the vehicle box finds it."""
    path, box, plate = truth("us", US[0])
    image = load_image(path)
    reader = readers["us"]
    assert not _matching([c for c in reader.detector.detect(image)], box)
    assert [r.text for r in _matching(reader.read(image), box)] == [plate]


def test_crops_come_from_full_resolution(readers):
    """A 4x larger copy of a real photo still reads: boxes map back to the full-resolution pixels."""
    path, box, plate = truth("eu", EU[0])
    image = load_image(path)
    big = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    found = _matching(readers["eu"].read(big), tuple(v * 4 for v in box))
    assert [r.text for r in found] == [plate]


def test_no_vehicle_no_plate(readers, faces_dir):
    for photo in ("examples/obama.jpg", "examples/biden.jpg"):
        assert [r for r in readers["eu"].read(load_image(faces_dir / photo)) if r.readable] == []


def _pixelate_characters(image, box, factor: int) -> None:
    x1, y1, x2, y2 = (int(v) for v in box)
    roi = image[y1 + 3:y2 - 3, x1 + 12:x2 - 3]
    small = cv2.resize(roi, (roi.shape[1] // factor, roi.shape[0] // factor), interpolation=cv2.INTER_AREA)
    image[y1 + 3:y2 - 3, x1 + 12:x2 - 3] = cv2.resize(small, (roi.shape[1], roi.shape[0]),
                                                       interpolation=cv2.INTER_NEAREST)


def test_unreadable_plate_is_reported_without_text(readers):
    """A real plate with its characters pixelated: found, and reported unreadable (text None), not guessed."""
    path, box, plate = truth("eu", "test_014")
    image = load_image(path)
    _pixelate_characters(image, box, 3)
    found = _matching(readers["eu"].read(image), box)
    assert found and [r.text for r in found] == [None], [r.to_dict() for r in found]
    assert found[0].to_dict()["text"] is None and found[0].raw_text != plate


@pytest.mark.parametrize(("stem", "factor"), [("test_002", 4), ("test_040", 3), ("test_040", 5)])
def test_destroyed_characters_never_give_the_plate(readers, stem, factor):
    path, box, plate = truth("eu", stem)
    image = load_image(path)
    _pixelate_characters(image, box, factor)
    reads = readers["eu"].read(image)
    assert plate not in {r.text for r in reads}
    assert all(r.text is None for r in _matching(reads, box)), [r.to_dict() for r in reads]


def test_huge_image_is_refused_before_decoding(tmp_path):
    from PIL import Image

    path = tmp_path / "bomb.png"
    Image.new("L", (12_000, 12_000)).save(path, optimize=True)
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.code == "too_large"


def _read(text: str, probs: list[float], alternatives: list[dict[str, float]] | None = None) -> TextRead:
    return TextRead(text, probs, alternatives or [{c: p} for c, p in zip(text, probs, strict=True)])


def test_format_rules_resolve_confusions_towards_the_format():
    # Slovak/French/Italian AB 123 CD: a zero in a letter position becomes O, a one in a letter position I.
    assert apply_format(_read("RK340A0", [0.99] * 6 + [0.7]), "eu").text == "RK340AO"
    assert apply_format(_read("BA2681M", [0.99] * 5 + [0.8, 0.99]), "eu").text == "BA268IM"
    # California 1ABC234: an S in a digit position becomes 5.
    assert apply_format(_read("7ABCS34", [0.99] * 4 + [0.7, 0.99, 0.99]), "us").text == "7ABC534"


def test_format_edits_cost_confidence_and_fitting_reads_are_kept():
    fitting = apply_format(_read("RK755AJ", [0.99] * 7), "eu")
    assert (fitting.text, fitting.edits) == ("RK755AJ", 0)
    edited = apply_format(_read("RK340A0", [0.99] * 7), "eu")
    assert edited.edits == 1 and edited.confidence < fitting.confidence


def test_a_spurious_character_is_dropped_to_fit():
    """A registration sticker read as an extra low-confidence character (Czech 4B3 9376)."""
    out = apply_format(_read("4B389376", [0.99, 0.99, 0.99, 0.4, 0.99, 0.99, 0.99, 0.99]), "eu")
    assert out.text == "4B39376" and out.edits == 1


def test_reads_fitting_no_format_are_kept_with_lower_confidence():
    out = apply_format(_read("SGTE5", [0.95] * 5), "us")
    assert out.text == "SGTE5" and out.format is None and out.confidence < 0.95


def test_normalise():
    assert normalise(" ab-12 cd ") == "AB12CD"
    assert normalise("rk·755·aj") == "RK755AJ"


def test_model_alphabet_is_restricted_to_plate_characters(readers):
    recognizer = readers["eu"].recognizer
    path, box, _plate = truth("eu", EU[1])
    x1, y1, x2, y2 = (int(v) for v in box)
    read = recognizer.read(np.ascontiguousarray(load_image(path)[y1:y2, x1:x2]))
    assert read.text and read.text.isalnum() and read.text == read.text.upper()
