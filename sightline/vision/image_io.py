"""Decode images from paths, bytes or arrays into one canonical form.

Every image that enters Sightline passes through :func:`load_image`, which
returns a contiguous ``uint8`` **BGR** array (OpenCV order) of shape (H, W, 3).

Defences, in the order they run:
  * size on disk / in memory (``max_bytes``) before reading,
  * format sniffing by content (not by file name),
  * pixel count from the header (``max_pixels``) *before* decoding, which stops
    decompression bombs such as a 30 000 x 30 000 PNG of zeros,
  * the decode's memory from the header (``max_decode_bytes``: bytes per stored
    pixel plus the BGR result), then a process-wide reservation of that memory
    and a decode slot (:mod:`sightline.vision.decode_gate`),
  * a full decode that fails loudly on truncated or corrupt data,
  * normalisation of exotic modes (CMYK, 16-bit, palette, alpha, grey) and of
    EXIF orientation, a band of rows at a time (no full-size float copies).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Literal, Union

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageMode, UnidentifiedImageError

from sightline.config import ImageLimits
from sightline.errors import ImageError
from sightline.vision.decode_gate import decode_gate

ImageInput = Union[str, Path, bytes, bytearray, memoryview, np.ndarray]
ColorOrder = Literal["bgr", "rgb"]

ImageFile.LOAD_TRUNCATED_IMAGES = False
# Our own limit (checked below) replaces Pillow's warning-only default.
Image.MAX_IMAGE_PIXELS = None
_ORIENTATION_TAG = 0x0112
_BAND_PIXELS = 1 << 20  # pixels converted per band of rows


def load_image(
    source: ImageInput,
    *,
    color: ColorOrder = "bgr",
    limits: ImageLimits | None = None,
) -> np.ndarray:
    """Return ``source`` as a contiguous uint8 BGR array of shape (H, W, 3).

    ``source`` may be a file path, the encoded bytes of an image file, or a
    numpy array. Arrays are taken to be in ``color`` order (BGR by default,
    as OpenCV produces; pass ``color="rgb"`` for arrays from Pillow or
    imageio). Raises :class:`ImageError` with a specific message on any
    unusable input.
    """
    limits = limits or ImageLimits()
    if isinstance(source, np.ndarray):
        return _from_array(source, color, limits)
    if isinstance(source, (str, Path)):
        data = _read_file(Path(source), limits)
        return _decode(data, limits, name=str(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise ImageError(f"image is {len(data)} bytes, over the limit of {limits.max_bytes}", code="too_large")
        return _decode(data, limits, name="<bytes>")
    raise ImageError(f"unsupported image input of type {type(source).__name__}; give a path, bytes or numpy array")


def _read_file(path: Path, limits: ImageLimits) -> bytes:
    if not path.exists():
        raise ImageError(f"{path}: no such file", code="not_found")
    if not path.is_file():
        raise ImageError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImageError(f"{path}: {size} bytes, over the limit of {limits.max_bytes}", code="too_large")
    return path.read_bytes()


def _decode(data: bytes, limits: ImageLimits, *, name: str) -> np.ndarray:
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)", code="empty_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        claimed = _claimed_format(data)
        if claimed:
            raise ImageError(f"{name}: starts like a {claimed} file but its header is corrupt",
                             code="corrupt_image") from None
        raise ImageError(f"{name}: not an image (format not recognised)", code="not_an_image") from None
    except Exception as exc:  # Pillow raises many types on malformed headers
        raise ImageError(f"{name}: unreadable image header ({exc})", code="corrupt_image") from None

    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})", code="corrupt_image")
    if width * height > limits.max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} = {width * height} pixels, over the limit of {limits.max_pixels} "
            "(possible decompression bomb; raise SIGHTLINE_MAX_IMAGE_PIXELS if this is intended)",
            code="too_large",
        )
    needed = decode_bytes(image.mode, width, height)
    if needed > limits.max_decode_bytes:
        raise ImageError(
            f"{name}: decoding {width}x{height} {image.mode} pixels needs about {needed >> 20} MiB, over the "
            f"limit of {limits.max_decode_bytes >> 20} MiB (SIGHTLINE_MAX_DECODE_BYTES)", code="too_large")
    with decode_gate().reserve(needed, name):
        try:
            image.load()
            orientation = _orientation(image)
            bgr = _to_bgr8(image)
        except OSError as exc:
            message = str(exc)
            code = "truncated_image" if "truncated" in message.lower() else "corrupt_image"
            raise ImageError(f"{name}: {image.format or 'image'} data is damaged ({message})", code=code) from None
        except Exception as exc:
            raise ImageError(f"{name}: cannot decode image ({exc})", code="corrupt_image") from None
        finally:
            image.close()
        return _apply_orientation(bgr, orientation)


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per decoded pixel of ``mode`` (multi-band 8-bit modes take 4)."""
    try:
        descriptor = ImageMode.getmode(mode)
    except KeyError:
        return 8
    size = int(descriptor.typestr[-1])
    return size if len(descriptor.bands) == 1 else 4 * size


def decode_bytes(mode: str, width: int, height: int) -> int:
    """Estimated peak memory of decoding such an image: Pillow's pixels plus the BGR result, or two BGR
    arrays when EXIF asks for a rotation (made after Pillow's pixels are freed), plus one band's work."""
    per_pixel = max(stored_bytes_per_pixel(mode) + 3, 6)
    return width * height * per_pixel + _BAND_PIXELS * 16


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block is not worth refusing the photo over
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(bgr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn the pixels upright as EXIF orientation 1-8 says (as ``ImageOps.exif_transpose`` does)."""
    if orientation <= 1:
        return bgr
    view = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }[orientation](bgr)
    upright = np.ascontiguousarray(view)
    del bgr, view
    return upright


_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _claimed_format(data: bytes) -> str | None:
    """The format a file's first bytes announce, if any (to tell corrupt images from non-images)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _MAGIC.items() if data.startswith(magic)), None)


def _to_bgr8(image: Image.Image) -> np.ndarray:
    """Any Pillow mode as a new 8-bit BGR array, converted a band of rows at a time (no full-size
    float or RGB intermediate: peak memory is Pillow's pixels plus the result)."""
    width, height = image.size
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _BAND_PIXELS // width)
    grey = _grey_scaling(image)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = image.crop((0, top, width, bottom))
        if grey is not None:
            cv2.cvtColor(grey(np.asarray(band)), cv2.COLOR_GRAY2BGR, dst=out[top:bottom])
        else:
            rgb = np.asarray(band if band.mode == "RGB" else band.convert("RGB"), dtype=np.uint8)
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=out[top:bottom])
    return out


def _grey_scaling(image: Image.Image):
    """For 16/32-bit integer and float greyscale modes, the function mapping a band to uint8 grey."""
    mode = image.mode
    if mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return None
    low, high = image.getextrema()
    if mode == "F":
        low, high = min(float(low), 0.0), max(float(high), 0.0)
        span = (high - low) or 1.0
        return lambda band: ((band.astype(np.float64) - low) / span * 255.0).astype(np.uint8)
    peak = 65535 if high > 255 else 255
    # round(v / peak * 255) for every 16-bit value, looked up instead of computed per pixel
    lut = np.minimum((np.arange(65536, dtype=np.uint32) * 510 + peak) // (2 * peak), 255).astype(np.uint8)

    def scale(band: np.ndarray) -> np.ndarray:
        if band.dtype != np.uint16:
            band = np.clip(band, 0, 65535).astype(np.uint16)
        return lut[band]

    return scale


def _from_array(array: np.ndarray, color: ColorOrder, limits: ImageLimits) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"array of shape {array.shape} is not an image; expected (H, W), (H, W, 3) or (H, W, 4)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError("array image has no pixels", code="empty_image")
    if array.shape[0] * array.shape[1] > limits.max_pixels:
        raise ImageError(f"array image of {array.shape[1]}x{array.shape[0]} is over the pixel limit", code="too_large")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and float(np.nanmax(array, initial=0)) <= 1.0:
            array = array * 255.0
        array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
    if color == "rgb":
        array = array[:, :, ::-1]
    elif color != "bgr":
        raise ImageError(f"unknown colour order {color!r}; use 'bgr' or 'rgb'")
    return np.ascontiguousarray(array)


def encode_jpeg(image_bgr: np.ndarray, quality: int = 90) -> bytes:
    """Encode a BGR array as JPEG bytes (used for snapshots and annotated output)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
