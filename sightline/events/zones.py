"""Zones: named polygons per camera, and enter/exit transitions of tracked objects.

An object is inside a zone when the bottom-centre of its box (a person's feet,
a car's wheels) lies inside or on the polygon. A transition fires after the
object has been on the new side for ``inertia`` consecutive updates, so a box
jittering on the border does not flood the outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from sightline.errors import ConfigError
from sightline.events.models import Event, EventType, utcnow

Box = Sequence[float]


def anchor_point(box: Box) -> tuple[float, float]:
    """Bottom-centre of an (x1, y1, x2, y2) box."""
    return (float(box[0]) + float(box[2])) / 2.0, float(box[3])


def point_in_polygon(point: tuple[float, float], polygon: np.ndarray) -> bool:
    """True when ``point`` is inside or on the edge of ``polygon`` ((N, 2) float32)."""
    return cv2.pointPolygonTest(polygon, (float(point[0]), float(point[1])), False) >= 0


@dataclass(frozen=True)
class Zone:
    """A polygon in pixels of one camera's frames; ``classes`` None means every label counts."""

    name: str
    polygon: np.ndarray
    classes: frozenset[str] | None = None
    inertia: int = 1

    @classmethod
    def from_points(cls, name: str, points: Iterable[Sequence[float]], *, classes: Iterable[str] | None = None,
                    inertia: int = 1) -> Zone:
        polygon = np.asarray([[float(x), float(y)] for x, y in points], dtype=np.float32)
        if polygon.ndim != 2 or len(polygon) < 3:
            raise ConfigError(f"zone {name!r} needs at least 3 points")
        if inertia < 1:
            raise ConfigError(f"zone {name!r}: inertia must be >= 1")
        return cls(name, polygon, frozenset(classes) if classes is not None else None, inertia)

    @classmethod
    def from_config(cls, name: str, config, width: int, height: int) -> Zone:
        """Build from a :class:`sightline.video.config.ZoneConfig` for ``width`` x ``height`` frames."""
        return cls.from_points(name, config.pixel_points(width, height), classes=config.classes,
                               inertia=config.inertia)

    def applies_to(self, label: str) -> bool:
        return self.classes is None or label in self.classes

    def contains(self, box: Box) -> bool:
        """Whether the box's bottom-centre lies in the zone."""
        return point_in_polygon(anchor_point(box), self.polygon)


@dataclass
class _TrackState:
    label: str
    inside: dict[str, datetime] = field(default_factory=dict)  # zone -> time entered
    pending: dict[str, int] = field(default_factory=dict)  # zone -> consecutive updates on the other side


class ZoneTracker:
    """Per-camera zone membership of tracks, turned into ``zone_enter`` / ``zone_exit`` events."""

    def __init__(self, camera: str, zones: Iterable[Zone]) -> None:
        self.camera = camera
        self.zones = list(zones)
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ConfigError(f"camera {camera!r}: zone names must be unique")
        self._tracks: dict[int, _TrackState] = {}

    def zones_of(self, track_id: int) -> list[str]:
        """Zones the track is currently in."""
        state = self._tracks.get(track_id)
        return sorted(state.inside) if state else []

    def update(self, track_id: int, label: str, box: Box, *, at: datetime | None = None,
               score: float | None = None) -> list[Event]:
        """Feed the track's box for one frame; returns the transitions it caused."""
        at = at or utcnow()
        state = self._tracks.setdefault(track_id, _TrackState(label))
        events = []
        for zone in self.zones:
            if not zone.applies_to(label):
                continue
            now_inside = zone.contains(box)
            was_inside = zone.name in state.inside
            if now_inside == was_inside:
                state.pending.pop(zone.name, None)
                continue
            state.pending[zone.name] = state.pending.get(zone.name, 0) + 1
            if state.pending[zone.name] < zone.inertia:
                continue
            state.pending.pop(zone.name)
            if now_inside:
                state.inside[zone.name] = at
                events.append(self._event(EventType.ZONE_ENTER, track_id, label, zone.name, at, None, score, box))
            else:
                entered = state.inside.pop(zone.name)
                events.append(self._event(EventType.ZONE_EXIT, track_id, label, zone.name, entered, at, score, box))
        return events

    def end(self, track_id: int, *, at: datetime | None = None) -> list[Event]:
        """The track is gone: exit every zone it was in and forget it."""
        at = at or utcnow()
        state = self._tracks.pop(track_id, None)
        if state is None:
            return []
        return [self._event(EventType.ZONE_EXIT, track_id, state.label, name, entered, max(at, entered), None, None)
                for name, entered in sorted(state.inside.items())]

    def _event(self, kind: EventType, track_id: int, label: str, zone: str, start: datetime,
               end: datetime | None, score: float | None, box: Box | None) -> Event:
        data = {"box": [round(float(v), 1) for v in box]} if box is not None else {}
        return Event(kind, self.camera, label, start_time=start, end_time=end, track_id=track_id, zone=zone,
                     score=score, data=data)
