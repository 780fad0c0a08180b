"""Write annotated frames to a video file with PyAV (H.264 when available, else MPEG-4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sightline.errors import VideoError


class VideoWriter:
    """Encodes BGR frames of one size at a fixed rate; use as a context manager."""

    def __init__(self, path: str | Path, fps: float, *, codec: str | None = None) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1000)
        self.codec = codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, image: np.ndarray) -> None:
        """Append one BGR frame (the first frame fixes the size; later ones are resized to it)."""
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
        container, stream = self._container, self._stream
        assert container is not None and stream is not None
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        if (frame.width, frame.height) != (stream.width, stream.height):
            frame = frame.reformat(width=stream.width, height=stream.height)
        for packet in stream.encode(frame):
            container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None or self._stream is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            container = av.open(str(self.path), mode="w")
            stream = container.add_stream(self.codec, rate=self.fps)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot write video {self.path}: {exc}") from None
        if not isinstance(stream, av.video.stream.VideoStream):
            container.close()
            raise VideoError(f"codec {self.codec!r} does not write video")
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        self._container, self._stream = container, stream
