"""Zones: bottom-centre point-in-polygon and enter/exit transitions per track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sightline.errors import ConfigError
from sightline.events.models import EventType
from sightline.events.zones import Zone, ZoneTracker, anchor_point
from sightline.video.config import ZoneConfig

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# A 100 x 100 square from (100, 100) to (200, 200), and a triangle to check a non-rectangular polygon.
SQUARE = Zone.from_points("porch", [(100, 100), (200, 100), (200, 200), (100, 200)])
TRIANGLE = Zone.from_points("lawn", [(300, 300), (500, 300), (300, 500)])


def box_with_feet_at(x: float, y: float, w: float = 40, h: float = 120) -> tuple[float, float, float, float]:
    return (x - w / 2, y - h, x + w / 2, y)


def test_membership_uses_the_bottom_centre_of_the_box():
    assert anchor_point((10, 20, 30, 60)) == (20, 60)
    assert SQUARE.contains(box_with_feet_at(150, 150))
    assert SQUARE.contains(box_with_feet_at(100, 150))  # on the edge counts as inside
    # The box overlaps the zone a lot, but the feet are below it: outside.
    assert not SQUARE.contains((110, 110, 190, 230))
    # Head outside, feet inside: inside.
    assert SQUARE.contains((140, 0, 160, 180))
    assert TRIANGLE.contains(box_with_feet_at(350, 350))
    assert not TRIANGLE.contains(box_with_feet_at(450, 450))  # inside the bounding box, outside the triangle


def test_enter_and_exit_events_per_track():
    tracker = ZoneTracker("gate", [SQUARE, TRIANGLE])
    path = [(50, 150), (150, 150), (160, 160), (350, 350), (600, 600)]
    events = []
    for step, (x, y) in enumerate(path):
        events += tracker.update(7, "person", box_with_feet_at(x, y), at=T0 + timedelta(seconds=step), score=0.9)
    kinds = [(e.type, e.zone, e.start_time - T0, e.end_time and e.end_time - T0) for e in events]
    assert kinds == [
        (EventType.ZONE_ENTER, "porch", timedelta(seconds=1), None),
        (EventType.ZONE_EXIT, "porch", timedelta(seconds=1), timedelta(seconds=3)),
        (EventType.ZONE_ENTER, "lawn", timedelta(seconds=3), None),
        (EventType.ZONE_EXIT, "lawn", timedelta(seconds=3), timedelta(seconds=4)),
    ]
    assert all(e.camera == "gate" and e.track_id == 7 and e.label == "person" for e in events)
    assert events[0].data["box"] == [130.0, 30.0, 170.0, 150.0]


def test_tracks_are_independent_and_ending_a_track_exits_its_zones():
    tracker = ZoneTracker("gate", [SQUARE])
    assert [e.type for e in tracker.update(1, "person", box_with_feet_at(150, 150), at=T0)] == [EventType.ZONE_ENTER]
    assert tracker.update(2, "person", box_with_feet_at(10, 10), at=T0) == []
    assert tracker.zones_of(1) == ["porch"] and tracker.zones_of(2) == []
    exits = tracker.end(1, at=T0 + timedelta(seconds=5))
    assert [(e.type, e.zone, e.track_id, e.end_time - e.start_time) for e in exits] == [
        (EventType.ZONE_EXIT, "porch", 1, timedelta(seconds=5))]
    assert tracker.end(1) == [] and tracker.end(2) == []


def test_inertia_ignores_jitter_on_the_border():
    zone = Zone.from_points("porch", SQUARE.polygon.tolist(), inertia=3)
    tracker = ZoneTracker("gate", [zone])
    jitter = [(150, 199), (150, 201), (150, 199), (150, 201), (150, 150), (150, 150), (150, 150)]
    events = [e for x, y in jitter for e in tracker.update(1, "person", box_with_feet_at(x, y), at=T0)]
    assert [e.type for e in events] == [EventType.ZONE_ENTER]  # only after three frames inside in a row


def test_zone_classes_filter_labels():
    zone = Zone.from_points("driveway", SQUARE.polygon.tolist(), classes=["car"])
    tracker = ZoneTracker("gate", [zone])
    assert tracker.update(1, "person", box_with_feet_at(150, 150)) == []
    assert [e.label for e in tracker.update(2, "car", box_with_feet_at(150, 150))] == ["car"]


def test_relative_zones_from_the_config_scale_to_the_frame():
    config = ZoneConfig.model_validate([[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]])
    zone = Zone.from_config("corner", config, width=1280, height=720)
    assert zone.polygon.tolist() == [[640, 360], [1280, 360], [1280, 720], [640, 720]]
    assert zone.contains(box_with_feet_at(1000, 700)) and not zone.contains(box_with_feet_at(600, 700))
    pixels = ZoneConfig.model_validate({"points": [[0, 0], [1, 0], [1, 1]], "units": "pixel"})
    assert Zone.from_config("tiny", pixels, 1280, 720).polygon.tolist() == [[0, 0], [1, 0], [1, 1]]


def test_bad_zones_are_refused():
    with pytest.raises(ConfigError):
        Zone.from_points("line", [(0, 0), (1, 1)])
    with pytest.raises(ConfigError):
        ZoneTracker("gate", [SQUARE, SQUARE])
