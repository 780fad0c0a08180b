"""A camera's plate options (YAML ``cameras.<name>.plates``), validated with the rest of the camera config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sightline.vision.plates.formats import REGIONS


class PlatesConfig(BaseModel):
    """Licence plates and drivers at a gate or lane.

    ``line``: two points (relative in [0, 1] when every coordinate is, else pixels) a vehicle crosses; its
    passage then gets a direction (``in``/``out``, see :mod:`sightline.plates.crossing`). ``driver_side``:
    where in the vehicle box the driver's face is looked for (image left/right half, or ``any``).
    ``store_plain_text``: keep the text of plates on no list (default: only a keyed hash, and the plate
    blurred in snapshots) -- personal data, so only with a legal basis.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    region: str = "eu"
    line: tuple[tuple[float, float], tuple[float, float]] | None = None
    driver_side: Literal["left", "right", "any"] = "any"
    store_plain_text: bool = False
    best_n: int = Field(default=5, ge=1, le=50)
    read_every_n_frames: int = Field(default=1, ge=1, le=1000)

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in REGIONS:
            raise ValueError(f"unknown plate region {region!r}; choose one of {', '.join(REGIONS)}")
        return region

    @field_validator("line")
    @classmethod
    def _proper_line(cls, line):
        if line is None:
            return None
        (x1, y1), (x2, y2) = line
        if min(x1, y1, x2, y2) < 0:
            raise ValueError("line coordinates must be >= 0")
        if (x1, y1) == (x2, y2):
            raise ValueError("the line's two points must differ")
        return line

    def pixel_line(self, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The line in pixels of a ``width`` x ``height`` frame."""
        if self.line is None:
            return None
        if all(v <= 1 for point in self.line for v in point):
            return tuple((x * width, y * height) for x, y in self.line)  # type: ignore[return-value]
        return self.line
