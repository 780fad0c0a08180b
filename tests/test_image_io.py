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


def _png(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **save)
    return buffer.getvalue()


def test_decode_budget_counts_bytes_per_pixel() -> None:
    """Same pixel count, different memory: the budget is checked from the header with the bytes Pillow
    stores per pixel (RGB keeps 4, 16-bit grey 2, 8-bit grey 1) plus the BGR result."""
    from sightline.vision.image_io import decode_bytes

    side = 1500
    grey8, rgb8 = decode_bytes("L", side, side), decode_bytes("RGB", side, side)
    assert grey8 < rgb8 and decode_bytes("I;16", side, side) >= side * side * (2 + 3)
    limits = ImageLimits(max_decode_bytes=(grey8 + rgb8) // 2)
    assert load_image(_png(np.full((side, side), 7, np.uint8)), limits=limits).shape == (side, side, 3)
    with pytest.raises(ImageError) as err:
        load_image(_png(np.full((side, side, 3), 7, np.uint8)), limits=limits)
    assert err.value.code == "too_large" and "SIGHTLINE_MAX_DECODE_BYTES" in err.value.message
    sixteen = _png(np.full((side, side), 7, np.uint16))
    with pytest.raises(ImageError):
        load_image(sixteen, limits=ImageLimits(max_decode_bytes=decode_bytes("I;16", side, side) - 1))
    assert load_image(sixteen, limits=ImageLimits(max_decode_bytes=decode_bytes("I;16", side, side))).shape[0] == side


def test_16bit_decode_makes_no_full_size_float_copies() -> None:
    """numpy's allocations while decoding a 9 MP 16-bit PNG stay near the 27 MB BGR result (the old
    float64 path allocated ~10x that)."""
    import tracemalloc

    side = 3000
    data = _png(np.arange(side * side, dtype=np.uint32).reshape(side, side).astype(np.uint16))
    tracemalloc.start()
    try:
        pixels = load_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result = side * side * 3
    assert pixels.shape == (side, side, 3)
    assert peak < 1.5 * result, f"decode allocated {peak >> 20} MiB for a {result >> 20} MiB result"


def test_16bit_scaling_and_every_exif_orientation_match_pillow() -> None:
    rng = np.random.default_rng(8)
    values = rng.integers(0, 65535, (41, 29), dtype=np.uint16)
    expected = np.clip(values / 65535.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(load_image(_png(values))[:, :, 0], expected)
    base = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    from PIL import ImageOps

    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = _png(base, exif=exif.tobytes())
        reference = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))[:, :, ::-1]
        assert np.array_equal(load_image(data), reference), orientation


def test_decode_gate_waits_then_refuses_with_server_busy() -> None:
    import threading

    from sightline.vision.decode_gate import DecodeGate

    gate = DecodeGate(budget_bytes=100, slots=2, wait_s=0.2)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.reserve(80):
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(5)
    with gate.reserve(20):  # fits beside it
        assert gate.in_use == (100, 2)
    started = time.monotonic()
    with pytest.raises(ImageError) as err, gate.reserve(30, "big.png"):
        pass
    assert err.value.code == "server_busy" and "big.png" in err.value.message
    assert 0.15 < time.monotonic() - started < 2
    threading.Timer(0.1, release.set).start()
    with gate.reserve(30):  # waits for the holder, then runs
        assert gate.in_use == (30, 1)
    holder.join()
    assert gate.in_use == (0, 0)
