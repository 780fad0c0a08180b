"""Every kind of bad or unusual image input gets a clear outcome, never a crash or a hang."""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from sightline.config import ImageLimits
from sightline.errors import ImageError
from sightline.vision.image_io import load_image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """A complete, valid 30 000 x 30 000 greyscale PNG of zeros: ~900 MB of pixels in under 1 MB."""
    side = 30_000
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    block = row * 1000
    parts = [compressor.compress(block) for _ in range(side // 1000)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(
        b"IEND", b""
    )


def test_decompression_bomb_is_refused_quickly(png_bomb: bytes) -> None:
    assert len(png_bomb) < 2_000_000
    started = time.perf_counter()
    with pytest.raises(ImageError) as info:
        load_image(png_bomb)
    assert info.value.code == "too_large"
    assert "30000x30000" in info.value.message
    assert time.perf_counter() - started < 2.0


def test_pixel_limit_is_configurable(faces_dir) -> None:
    with pytest.raises(ImageError, match="pixel"):
        load_image(faces_dir / "examples/obama-720p.jpg", limits=ImageLimits(max_pixels=1000, max_bytes=10**9))


def test_byte_limit(tmp_path, faces_dir) -> None:
    with pytest.raises(ImageError) as info:
        load_image(faces_dir / "examples/obama-720p.jpg", limits=ImageLimits(max_pixels=10**9, max_bytes=100))
    assert info.value.code == "too_large"


def test_empty_file(tmp_path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError) as info:
        load_image(empty)
    assert info.value.code == "empty_image"


def test_missing_file(tmp_path) -> None:
    with pytest.raises(ImageError) as info:
        load_image(tmp_path / "nope.jpg")
    assert info.value.code == "not_found"


def test_directory_is_not_an_image(tmp_path) -> None:
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(tmp_path)


@pytest.mark.parametrize("payload", [b"hello, I am text\n" * 10, bytes(range(256)) * 4, b"%PDF-1.4\n%garbage"])
def test_non_images(payload: bytes) -> None:
    with pytest.raises(ImageError) as info:
        load_image(payload)
    assert info.value.code == "not_an_image"


def test_truncated_jpeg(faces_dir) -> None:
    data = (faces_dir / "examples/obama.jpg").read_bytes()
    with pytest.raises(ImageError) as info:
        load_image(data[: len(data) // 2])
    assert info.value.code == "truncated_image"


def test_truncated_png(faces_dir) -> None:
    data = (faces_dir / "examples/lin-manuel-miranda.png").read_bytes()
    with pytest.raises(ImageError):
        load_image(data[: len(data) // 3])


def test_corrupt_jpeg_body(faces_dir) -> None:
    data = bytearray((faces_dir / "examples/obama.jpg").read_bytes())
    data[600:] = b"\x00" * (len(data) - 600)  # header intact, entropy-coded data destroyed
    try:
        image = load_image(bytes(data))
    except ImageError as exc:
        assert exc.code in {"corrupt_image", "truncated_image"}
    else:  # libjpeg may decode garbage to grey pixels; then it must still be a valid array
        assert image.dtype == np.uint8 and image.ndim == 3


def test_cmyk_jpeg_becomes_bgr(faces_dir) -> None:
    rgb = Image.open(faces_dir / "examples/obama-240p.jpg").convert("RGB")
    buffer = io.BytesIO()
    rgb.convert("CMYK").save(buffer, format="JPEG", quality=95)
    image = load_image(buffer.getvalue())
    reference = load_image(faces_dir / "examples/obama-240p.jpg")
    assert image.shape == reference.shape
    assert np.abs(image.astype(int) - reference.astype(int)).mean() < 12


def test_16bit_png(tmp_path, faces_dir) -> None:
    reference = load_image(faces_dir / "examples/obama-240p.jpg")
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), reference.astype(np.uint16) * 257)
    image = load_image(path)
    assert image.dtype == np.uint8
    assert np.abs(image.astype(int) - reference.astype(int)).max() <= 1


def test_16bit_grey_png(tmp_path, faces_dir) -> None:
    grey = cv2.cvtColor(load_image(faces_dir / "examples/obama-240p.jpg"), cv2.COLOR_BGR2GRAY)
    path = tmp_path / "grey16.png"
    cv2.imwrite(str(path), grey.astype(np.uint16) * 257)
    image = load_image(path)
    assert image.shape == (*grey.shape, 3)
    assert np.abs(image[:, :, 0].astype(int) - grey.astype(int)).max() <= 1


def test_rgba_png_from_dataset(faces_dir) -> None:
    image = load_image(faces_dir / "tests/test_images/32bit.png")
    assert image.shape == (1200, 626, 3) and image.dtype == np.uint8


def test_palette_and_grey(tmp_path, faces_dir) -> None:
    source = Image.open(faces_dir / "examples/obama-240p.jpg")
    for mode in ("P", "L", "LA"):
        path = tmp_path / f"img-{mode}.png"
        source.convert(mode).save(path)
        assert load_image(path).shape == (240, 427, 3)


def test_exif_orientation_is_applied(tmp_path, faces_dir) -> None:
    source = Image.open(faces_dir / "examples/obama-240p.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rotated.jpg"
    source.save(path, exif=exif.tobytes())
    assert load_image(path).shape == (427, 240, 3)


def test_arrays_bgr_and_rgb() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red channel in RGB order
    assert load_image(rgb, color="rgb")[0, 0].tolist() == [0, 0, 200]
    assert load_image(rgb)[0, 0].tolist() == [200, 0, 0]
    assert load_image(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert load_image(np.ones((4, 5, 3), np.float32)).max() == 255


@pytest.mark.parametrize("bad", [np.zeros((0, 5, 3), np.uint8), np.zeros((4, 5, 7), np.uint8), np.zeros(10)])
def test_bad_arrays(bad) -> None:
    with pytest.raises(ImageError):
        load_image(bad)


def test_unsupported_type() -> None:
    with pytest.raises(ImageError, match="unsupported image input"):
        load_image(12345)  # type: ignore[arg-type]
