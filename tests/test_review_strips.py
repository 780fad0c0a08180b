"""Frame strips of review items: a few frames across each track's life, every face blurred (the enrolled one too),
kept next to the snapshots and removed by the same retention. Real models on the real Hamilton clip."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from sightline.events.models import EventType
from sightline.events.snapshots import purge_snapshot_files
from sightline.gallery.gallery import Gallery
from sightline.video.runner import build_pipeline, run
from sightline.video.sources import FrameSource
from sightline.video.strip import GAP, TILE_HEIGHT, TrackStrips, compose_strip

CLIP = "examples/short_hamilton_clip.mp4"
LIN = "examples/lin-manuel-miranda.png"


def tiles_of(strip: np.ndarray, width: int) -> list[np.ndarray]:
    """The frames of a strip (each ``width`` wide, GAP apart)."""
    return [strip[:, x:x + width] for x in range(0, strip.shape[1], width + GAP)]


def seen_faces(engine, tile: np.ndarray, size: tuple[int, int]) -> int:
    """Faces the engine finds in a strip frame scaled back to the camera's size."""
    return len(engine.detect_array(cv2.resize(tile, size, interpolation=cv2.INTER_CUBIC), embed=False))


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory, faces_dir, engine):
    """(pipeline events, snapshot folder, data home, his subject id) of the clip with Lin-Manuel Miranda enrolled
    (events stored in the gallery's database)."""
    home = tmp_path_factory.mktemp("strips")
    with Gallery.open(home / "home", engine=engine) as gallery:
        subject = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent", purpose="strip test",
                                         evidence="form-3", retain_until=datetime.now(UTC) + timedelta(days=1))
        gallery.enroll(subject["id"], [faces_dir / LIN])
        pipeline = build_pipeline("stage", gallery=gallery, face_engine=engine, snapshot_dir=home / "snaps")
        run(pipeline, FrameSource(faces_dir / CLIP, fps=5).open(), lambda result: None)
    return list(pipeline.events), home / "snaps", home / "home", subject["id"]


def test_sample_spreads_over_the_whole_track_in_bounded_memory():
    strips = TrackStrips(frames=5, keep=12)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(200):
        frame = np.full((36, 64, 3), index % 256, np.uint8)
        strips.offer(7, frame, [], start + timedelta(seconds=index))
        assert len(strips._samples[7]) < 12  # never more than `keep` copies held
    picked = [int((s.when - start).total_seconds()) for s in strips.pop(7)]
    assert len(picked) == 5 and picked[0] == 0 and picked[-1] >= 150, picked  # first to (nearly) last
    assert picked == sorted(picked) and len(strips) == 0


def test_every_face_is_blurred_even_when_the_caller_did_not_search(engine, faces_dir):
    photo = cv2.imread(str(faces_dir / "examples" / "two_people.jpg"))
    height, width = photo.shape[:2]
    scale = 640 / max(height, width)
    size = (round(width * scale), round(height * scale))
    strips = TrackStrips(frames=2, keep=4)
    now = datetime.now(UTC)
    strips.offer(1, photo, None, now)  # faces not searched on this frame: the strip searches them
    strips.offer(1, photo, [f.box for f in engine.detect_array(photo, embed=False)], now)
    strip = compose_strip(strips.pop(1), lambda image: [f.box for f in engine.detect_array(image, embed=False)])
    assert strip is not None and strip.shape[0] == TILE_HEIGHT
    tile_width = round(size[0] * TILE_HEIGHT / size[1])
    plain = cv2.resize(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), (tile_width, TILE_HEIGHT),
                       interpolation=cv2.INTER_AREA)
    assert seen_faces(engine, plain, size) == 2  # the check can see faces at strip size
    for tile in tiles_of(strip, tile_width):
        assert seen_faces(engine, tile, size) == 0


def test_track_ends_carry_a_strip_in_which_nobody_can_be_recognised(clip_run, engine, faces_dir):
    """Every face in every strip frame is too blurred to match him (the recognition's own snapshot, brought down
    to strip size, still matches: the check would see a sharp face)."""
    events = clip_run[0]
    ends = [e for e in events if e.type is EventType.TRACK_END and e.data.get("strip")]
    assert len(ends) >= 3
    lin = engine.embed(faces_dir / LIN)
    threshold = engine.threshold

    def similarities(image: np.ndarray) -> list[float]:
        big = cv2.resize(image, (640, 360), interpolation=cv2.INTER_CUBIC)
        return [float(np.dot(engine.embedder.embed(big, [face])[0], lin))
                for face in engine.detect_array(big, embed=False)]

    seen = next(e for e in events if e.type is EventType.PERSON_SEEN and e.snapshot)
    small = cv2.resize(cv2.imread(seen.snapshot), (round(640 * TILE_HEIGHT / 360), TILE_HEIGHT),
                       interpolation=cv2.INTER_AREA)
    assert max(similarities(small)) > threshold  # at strip size his sharp face would still be recognised
    tile_width = round(640 * TILE_HEIGHT / 360)
    found = []
    for event in ends:
        strip = cv2.imread(event.data["strip"])
        assert strip.shape[0] == TILE_HEIGHT and Path(event.data["strip"]).parent.parent.name == "stage"
        for tile in tiles_of(strip, tile_width):
            found += similarities(tile)
    print(f"faces left detectable in strips: {len(found)}, best similarity to him {max(found, default=0):.3f} "
          f"(threshold {threshold:.3f})")
    assert all(value < threshold - 0.1 for value in found), sorted(found)[-3:]


def test_erasure_leaves_strips_that_name_and_show_nobody(clip_run, engine):
    """Erasing him removes his recognitions and their sharp snapshots; the strips of his tracks stay as an unknown
    person's track does (every face blurred, shown above), tied to no subject, so no export lists them."""
    from sightline.jobs.hooks import install_hooks
    from sightline.store.events_repo import EventRow

    events, _, home, subject_id = clip_run
    install_hooks()
    seen = [Path(e.snapshot) for e in events if e.type is EventType.PERSON_SEEN and e.snapshot]
    strips = [Path(e.data["strip"]) for e in events if e.data.get("strip")]
    assert seen and all(p.exists() for p in seen)
    with Gallery.open(home, engine=engine) as gallery:
        export = gallery.export(subject_id, home / "export")
        assert "strip-" not in (export / "subject.json").read_text()
        gallery.erase(subject_id, reason="request")
        with gallery.sessions() as session:
            rows = session.query(EventRow).all()
    assert rows and not [r for r in rows if r.subject_id == subject_id or r.type == "person_seen"]
    assert not any(p.exists() for p in seen)  # his sharp snapshots are gone
    assert all(p.exists() for p in strips)  # the blurred strips stay, like any stranger's track
    assert {r.data.get("strip") for r in rows if r.type == "track_end"} >= {str(p) for p in strips}


def test_retention_removes_the_strips_with_the_snapshots(clip_run):
    events, snaps = clip_run[:2]
    strips = [Path(e.data["strip"]) for e in events if e.data.get("strip")]
    old = time.time() - 10 * 86400
    for path in strips:
        os.utime(path, (old, old))
    purge_snapshot_files(snaps, 7)
    assert not any(path.exists() for path in strips)
