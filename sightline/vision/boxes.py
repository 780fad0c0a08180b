"""Box arithmetic shared by faces and object detections."""

from __future__ import annotations


class BoxSize:
    """``width`` and ``height`` of an ``(x1, y1, x2, y2)`` pixel ``box`` attribute."""

    box: tuple[float, float, float, float]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]
