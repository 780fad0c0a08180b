"""Frames from video files, network streams and webcams, decoded with PyAV.

:class:`FrameSource` opens one source once and yields :class:`Frame` objects,
sampled down to a target rate by timestamp (every frame is still decoded, so
reference frames stay intact; only the BGR conversion of dropped frames is
skipped). Live streams are wrapped by :class:`~sightline.video.reconnect.ReconnectingSource`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
import numpy as np

from sightline.errors import ConfigError, VideoError

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "tcp://", "srt://", "http://", "https://")
MAX_CONSECUTIVE_DECODE_ERRORS = 50


class StreamError(VideoError):
    """A live stream cannot be reached, stalls, or drops (network trouble, retryable)."""

    code = "stream_error"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    ``index`` counts decoded frames since the source opened (so sampling shows as gaps),
    ``pts_seconds`` is the presentation time in the stream, ``wall_time`` the
    ``time.time()`` when it was decoded.
    """

    index: int
    pts_seconds: float
    wall_time: float
    image_bgr: np.ndarray


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about its video stream."""

    width: int
    height: int
    codec: str
    fps: float | None
    duration_s: float | None


class FpsSampler:
    """Decides by timestamp which frames to keep so that about ``fps`` per second come out."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps!r}")
        self.period = 1.0 / fps if fps else 0.0
        self._next: float | None = None

    def take(self, t: float) -> bool:
        """True when the frame at time ``t`` (seconds) should be kept."""
        if not self.period:
            return True
        if self._next is not None and self._next - self.period - 1e-6 <= t < self._next - 1e-6:
            return False
        # Next slot one period after the previous one; resync after gaps or jumps back in time.
        nxt = (self._next if self._next is not None else t) + self.period
        self._next = nxt if t < nxt <= t + self.period else t + self.period
        return True


def normalise_source(source: str | int | Path) -> str:
    """Turn a webcam number into its device path and ``file://`` URLs into paths; others pass through."""
    if isinstance(source, bool):
        raise ConfigError("video source must be a path, URL or webcam number")
    if isinstance(source, int):
        return f"/dev/video{source}"
    text = str(source).strip()
    if not text:
        raise ConfigError("video source is empty")
    if text.lower().startswith("file://"):
        return unquote(urlsplit(text).path)
    return f"/dev/video{text}" if text.isdigit() else text


def is_live(source: str | int | Path) -> bool:
    """True for network streams and webcams (which never legitimately end)."""
    text = normalise_source(source)
    return text.lower().startswith(LIVE_SCHEMES) or text.startswith("/dev/video")


_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:pass|pwd|token|secret|key|auth|sig)[^=&#]*=)[^&#]*", re.I)


def redact(url: str) -> str:
    """The URL with any password (and secret-looking query values, ``?password=``/``token=``) replaced by ``***``
    (for messages and logs)."""
    return _SECRET_QUERY.sub(r"\1***", re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url))


def _open_args(url: str, timeout_s: float) -> tuple[str | None, dict[str, str]]:
    """PyAV ``format`` and ``options`` for a source: TCP for RTSP and socket timeouts in microseconds."""
    micros = str(int(timeout_s * 1_000_000))
    lower = url.lower()
    if lower.startswith(("rtsp://", "rtsps://")):
        return None, {"rtsp_transport": "tcp", "timeout": micros}
    if lower.startswith(("http://", "https://")):
        return None, {"rw_timeout": micros, "timeout": micros}
    if lower.startswith(LIVE_SCHEMES):
        return None, {"rw_timeout": micros}
    if url.startswith("/dev/video"):
        return "v4l2", {}
    return None, {}


class FrameSource:
    """Iterate the frames of one video file, stream or webcam, opened once.

    Bad files raise :class:`VideoError` when opened; a truncated or damaged file
    yields the frames that decode and then ends, leaving a note in ``warnings``.
    Live sources raise :class:`StreamError` when they cannot be opened or fail while
    reading, and simply end when the sender ends the stream.
    """

    def __init__(
        self,
        source: str | int | Path,
        *,
        fps: float | None = None,
        timeout_s: float = 10.0,
        live: bool | None = None,
        stop_event: threading.Event | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        self.url = normalise_source(source)
        self.name = redact(self.url)
        self.live = is_live(self.url) if live is None else live
        self.sampler = FpsSampler(fps)
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s!r}")
        self.timeout_s = timeout_s
        self.extra_options = dict(options or {})
        self.stop_event = stop_event or threading.Event()
        self.warnings: list[str] = []
        self.frames_decoded = 0
        self.frames_emitted = 0
        self.decode_errors = 0
        self.info: VideoInfo | None = None
        self._container: av.container.InputContainer | None = None
        self._start_s = 0.0

    def _fail(self, message: str) -> VideoError:
        return StreamError(message) if self.live else VideoError(message)

    def _why(self, exc: BaseException) -> str:
        """An exception's text with the URL's password redacted."""
        return str(exc).replace(self.url, self.name)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s: %s", self.name, message)

    def open(self) -> FrameSource:
        """Open the container and pick its first video stream (idempotent)."""
        if self._container is not None:
            return self
        if not self.live and not self.url.startswith("/dev/") and not Path(self.url).is_file():
            raise VideoError(f"video file not found: {self.name}")
        fmt, options = _open_args(self.url, self.timeout_s)
        options.update(self.extra_options)
        started = time.monotonic()
        try:
            container = av.open(self.url, format=fmt, options=options, timeout=(self.timeout_s, self.timeout_s))
        except (av.FFmpegError, OSError) as exc:
            if self.live and time.monotonic() - started >= 0.9 * self.timeout_s:
                raise StreamError(f"no answer from {self.name} within {self.timeout_s:g} s") from exc
            kind = "cannot open stream" if self.live else "not a readable video (corrupt, truncated or not a video)"
            raise self._fail(f"{kind}: {self.name}: {self._why(exc)}") from exc
        if not self.live and (container.format.name == "image2" or container.format.name.endswith("_pipe")):
            container.close()
            raise VideoError(f"{self.name} is a still image, not a video")
        if not container.streams.video:
            container.close()
            raise self._fail(f"no video stream in {self.name}")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None or not ctx.name or ctx.name == "none":
            container.close()
            raise VideoError(f"unsupported video codec in {self.name}")
        stream.thread_type = "AUTO"
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        rate = stream.average_rate or stream.guessed_rate
        self.info = VideoInfo(ctx.width, ctx.height, ctx.name, float(rate) if rate else None, duration)
        self._start_s = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        self._container = container
        return self

    def close(self) -> None:
        """Release the container (safe to call twice)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> FrameSource:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        self.open()
        try:
            yield from self._frames()
        finally:
            self.close()

    def _frames(self) -> Iterator[Frame]:
        container = self._container
        assert container is not None
        stream = container.streams.video[0]
        start = time.monotonic()
        last_t: float | None = None
        step = 1.0 / self.info.fps if self.info and self.info.fps else 1.0 / 30
        bad_in_a_row = 0
        packets = container.demux(stream)
        while not self.stop_event.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as exc:
                if self.live:
                    raise StreamError(f"stream failed or stalled: {self.name}: {self._why(exc)}") from exc
                self._warn(f"stopped reading after {self.frames_decoded} frames: {self._why(exc)}")
                return
            try:
                decoded = packet.decode()
                bad_in_a_row = 0
            except av.FFmpegError as exc:
                # Skip damaged packets; the decoder recovers at the next key frame.
                self.decode_errors += 1
                bad_in_a_row += 1
                if self.decode_errors == 1:
                    self._warn(f"undecodable data after frame {self.frames_decoded}: {self._why(exc)}")
                if self.live and bad_in_a_row >= MAX_CONSECUTIVE_DECODE_ERRORS:
                    raise StreamError(f"stream keeps sending undecodable data: {self.name}") from exc
                continue
            for vf in decoded:
                index = self.frames_decoded
                self.frames_decoded += 1
                t = vf.time if vf.time is not None else (time.monotonic() - start if last_t is None else last_t + step)
                last_t = t
                if not self.sampler.take(t):
                    continue
                self.frames_emitted += 1
                yield Frame(index, float(t), time.time(), vf.to_ndarray(format="bgr24"))
        self._check_complete(last_t)

    def _check_complete(self, last_t: float | None) -> None:
        """Note a file that ended well before its declared duration (truncated)."""
        if self.live or self.stop_event.is_set() or self.info is None:
            return
        if self.decode_errors:
            self._warn(f"skipped {self.decode_errors} damaged packets")
        if self.frames_decoded == 0:
            self._warn("no frame could be decoded")
            return
        duration = self.info.duration_s
        slack = 3.0 / self.info.fps if self.info.fps else 0.2
        if duration and last_t is not None and last_t + slack < self._start_s + duration:
            self._warn(f"video looks truncated: decoded {last_t:.2f} s of {duration:.2f} s")
