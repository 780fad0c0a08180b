"""A checkout attempt's pictures: still frames with the terminal's timestamps, or one short clip.

Frames must come in capture order with strictly increasing timestamps inside the session's window (from
its creation, less a small clock skew, to its expiry), so pictures taken before the session was opened
(a recording of an earlier one) are refused. A clip's frames are timed by its own presentation times
from ``started_at``. Nothing here is written to disk.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sightline.checkout.errors import CheckoutError
from sightline.errors import ImageError
from sightline.vision.image_io import load_image

CLIP_FPS = 10.0  # a clip is sampled to at most this rate (blinks last 100-300 ms)
MAX_CLIP_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class TimedFrame:
    """One picture and when it was taken (seconds since the epoch, the terminal's clock)."""

    at: float
    image_bgr: np.ndarray


def parse_timestamps(raw: object, count: int) -> list[float]:
    """Epoch milliseconds, as a JSON list or a comma-separated string, one per frame, in seconds."""
    if isinstance(raw, str):
        parts: Sequence[object] = [p for p in raw.replace(" ", "").split(",") if p]
    elif isinstance(raw, list):
        parts = raw
    else:
        raise CheckoutError("send 'timestamps': the capture time of each frame in epoch milliseconds",
                            code="timestamps_required")
    try:
        values = [float(p) / 1000.0 for p in parts]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckoutError("'timestamps' must be numbers (epoch milliseconds)", code="bad_timestamps") from None
    if len(values) != count:
        raise CheckoutError(f"{count} frames but {len(values)} timestamps: send one per frame",
                            code="bad_timestamps")
    if any(not np.isfinite(v) for v in values):
        raise CheckoutError("'timestamps' must be finite numbers", code="bad_timestamps")
    return values


def from_images(images: Sequence[tuple[str, bytes]], timestamps: Sequence[float]) -> list[TimedFrame]:
    """Decode still frames (every image goes through the usual size and bomb checks)."""
    frames = []
    for (name, data), at in zip(images, timestamps, strict=True):
        try:
            frames.append(TimedFrame(at, load_image(data)))
        except ImageError as exc:
            raise CheckoutError(f"frame {name}: {exc.message}", code=exc.code, status=400) from None
    return frames


def from_clip(data: bytes, started_at: float, max_frames: int) -> list[TimedFrame]:
    """Decode a short clip (any container PyAV reads: mp4, webm...) at up to :data:`CLIP_FPS`."""
    import av

    if len(data) > MAX_CLIP_BYTES:
        raise CheckoutError(f"a clip may be at most {MAX_CLIP_BYTES // (1024 * 1024)} MiB", code="clip_too_large",
                            status=413)
    frames: list[TimedFrame] = []
    next_t = 0.0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise CheckoutError("the clip has no video stream", code="bad_clip", status=400)
            stream = container.streams.video[0]
            if stream.width * stream.height > 1920 * 1080:
                raise CheckoutError("clip frames may be at most 1920x1080", code="clip_too_large", status=413)
            first = None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(frames) / CLIP_FPS
                first = t if first is None else first
                if t - first + 1e-6 < next_t:
                    continue
                frames.append(TimedFrame(started_at + (t - first), frame.to_ndarray(format="bgr24")))
                next_t = t - first + 1.0 / CLIP_FPS
                if len(frames) >= max_frames:
                    break
    except CheckoutError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise CheckoutError(f"the clip cannot be decoded: {exc}", code="bad_clip", status=400) from None
    if not frames:
        raise CheckoutError("the clip has no frames", code="bad_clip", status=400)
    return frames


def check_window(frames: Sequence[TimedFrame], created_at: datetime, expires_at: datetime, now: datetime,
                 skew_s: float) -> None:
    """Frames in order, inside the session's window, and not from the future."""
    if len(frames) < 3:
        raise CheckoutError("send at least 3 frames (or a clip) covering the whole challenge",
                            code="too_few_frames")
    times = [f.at for f in frames]
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise CheckoutError("frames must be in capture order with increasing timestamps", code="frames_out_of_order")
    if times[0] < created_at.timestamp() - skew_s:
        raise CheckoutError("frames were taken before this session was opened (a recording of an earlier "
                            "session?)", code="frames_before_session")
    if times[-1] > min(now, expires_at).timestamp() + skew_s:
        raise CheckoutError("frames are timed after the session's expiry or in the future",
                            code="frames_outside_window")
