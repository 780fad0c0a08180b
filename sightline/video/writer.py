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
        self._container = None
        self._stream = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, image: np.ndarray) -> None:
        """Append one BGR frame (the first frame fixes the size; later ones are resized to it)."""
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        if (frame.width, frame.height) != (self._stream.width, self._stream.height):
            frame = frame.reformat(width=self._stream.width, height=self._stream.height)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.path), mode="w")
            self._stream = self._container.add_stream(self.codec, rate=self.fps)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot write video {self.path}: {exc}") from None
        self._stream.width, self._stream.height = width - width % 2, height - height % 2
        self._stream.pix_fmt = "yuv420p"
