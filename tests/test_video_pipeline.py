"""The camera pipeline end to end on the real Hamilton clip: recognition, events, blurring, audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from sightline.events.store import query_events
from sightline.gallery.gallery import Gallery
from sightline.video.pipeline import FrameResult
from sightline.video.runner import build_pipeline, run
from sightline.video.sources import FrameSource
from sightline.video.writer import VideoWriter

LIN = "examples/lin-manuel-miranda.png"
CLIP = "examples/short_hamilton_clip.mp4"
CUT_FRAME = 216  # the clip cuts from the stage to the audience here


def sightline(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIGHTLINE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def processed(tmp_path_factory, faces_dir):
    """Lin-Manuel Miranda enrolled through the CLI, then the clip processed through the CLI (JSON)."""
    home = tmp_path_factory.mktemp("home")
    enrol = sightline("gallery", "enroll", str(faces_dir / LIN), "--name", "Lin-Manuel Miranda",
                      "--legal-basis", "consent", "--purpose", "video recognition test", "--evidence", "form-1",
                      "--retention-days", "30", "--json", home=home)
    assert enrol.returncode == 0, enrol.stdout + enrol.stderr
    out = home / "annotated.mp4"
    result = sightline("video", "process", str(faces_dir / CLIP), "--out", str(out), "--json", home=home)
    assert result.returncode == 0, result.stderr
    return home, json.loads(result.stdout), out


def test_enrolled_person_is_seen(processed, engine) -> None:
    _, payload, _ = processed
    seen = [e for e in payload["events"] if e["type"] == "person_seen"]
    assert seen, payload["stats"]
    assert {e["subject_name"] for e in seen} == {"Lin-Manuel Miranda"}
    assert all(e["score"] >= engine.threshold for e in seen)  # named only at or above the calibrated threshold


def test_tracks_start_and_end_in_pairs(processed) -> None:
    _, payload, _ = processed
    starts = {e["track_id"] for e in payload["events"] if e["type"] == "track_start"}
    ends = {e["track_id"] for e in payload["events"] if e["type"] == "track_end"}
    assert starts and starts == ends


def test_events_are_stored_and_identifications_audited(processed) -> None:
    home, payload, _ = processed
    with Gallery.open(home) as gallery:
        with gallery.sessions() as session:
            stored = query_events(session, limit=500)
        assert {e.id for e in stored} == {e["id"] for e in payload["events"]}
        assert gallery.audit.verify().ok
        rows = gallery.audit.tail(500)
    identifies = [r for r in rows if r.action == "identify"]
    assert any(r.outcome == "match" for r in identifies)
    assert all("embedding" not in r.details and "camera" in r.details for r in identifies)


def test_snapshots_hide_every_face_but_the_enrolled_one(processed, engine, faces_dir) -> None:
    home, payload, _ = processed
    lin = engine.embed(faces_dir / LIN)
    snapshots = sorted((home / "snapshots").rglob("*.jpg"))
    assert snapshots
    for path in snapshots:
        for face in engine.detect(path, embed=True):
            is_him = float(face.embedding @ lin) >= engine.threshold
            blurred = face.quality.sharpness < 0.3
            assert is_him or blurred, f"{path.name}: a sharp face of someone not enrolled at {face.box}"


def test_annotated_video_names_only_him_and_blurs_the_audience(processed, engine, faces_dir) -> None:
    _, _, out = processed
    frames = [frame.image_bgr for frame in FrameSource(out).open()]
    assert len(frames) > 30
    raw = [frame.image_bgr for frame in FrameSource(faces_dir / CLIP, fps=5).open()]  # the frames it analysed
    assert len(raw) == len(frames)
    audience, original = frames[-4], raw[-4]  # after the cut: the audience, none of them enrolled
    faces = engine.detect(original)
    assert faces, "the test needs faces in the raw frame"
    for face in faces:
        assert _sharpness(audience, face.box) < 0.3 * _sharpness(original, face.box), f"sharp face at {face.box}"


def _sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian inside ``box`` (low when blurred)."""
    x1, y1, x2, y2 = (max(0, int(v)) for v in box)
    return float(cv2.Laplacian(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_no_name_survives_the_scene_cut(tmp_path, faces_dir, engine) -> None:
    with Gallery.open(tmp_path / "home", engine=engine) as gallery:
        subject = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent", purpose="cut test",
                                         evidence="form-2", retain_until=datetime.now(UTC) + timedelta(days=1))
        gallery.enroll(subject["id"], [faces_dir / LIN])
        pipeline = build_pipeline("stage", gallery=gallery, face_engine=engine)
        named_after_cut: list[int] = []
        named_before_cut: list[int] = []

        def check(result: FrameResult) -> None:
            if result.face_names:
                (named_after_cut if result.frame.index >= CUT_FRAME else named_before_cut).append(result.frame.index)

        run(pipeline, FrameSource(faces_dir / CLIP, fps=5).open(), check)
    assert named_before_cut, "he is on stage before the cut"
    assert named_after_cut == [], f"a name leaked across the cut into frames {named_after_cut}"
    assert pipeline.scene_cuts.cuts >= 2


def test_nobody_enrolled_means_nobody_named(tmp_path, faces_dir, engine) -> None:
    with Gallery.open(tmp_path / "home", engine=engine) as gallery:
        pipeline = build_pipeline("stage", gallery=gallery, face_engine=engine, snapshot_dir=tmp_path / "snaps")
        results: list[FrameResult] = []
        run(pipeline, FrameSource(faces_dir / CLIP, fps=2).open(), results.append)
    types = {e.type.value for e in pipeline.events}
    assert "person_seen" not in types and "unknown_person" in types
    assert all(e.subject_id is None for e in pipeline.events)
    with_faces = [r for r in results if r.faces]
    assert with_faces
    checked = 0
    for result in with_faces[:5]:
        frame, annotated = result.frame.image_bgr, result.annotated()
        for face in result.faces:
            x1, y1, x2, y2 = (int(v) for v in face.box)
            before = cv2.Laplacian(cv2.cvtColor(frame[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
            after = cv2.Laplacian(cv2.cvtColor(annotated[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
            if before < 10:  # a face found in a dark, textureless patch: no detail for the blur to remove
                continue
            assert after < before * 0.3, f"sharp unknown face at {face.box}"
            checked += 1
    assert checked >= 3


def test_motion_gate_skips_a_still_camera(tmp_path, faces_dir, engine) -> None:
    first = next(iter(FrameSource(faces_dir / CLIP).open())).image_bgr
    still = tmp_path / "still.mp4"
    with VideoWriter(still, 10) as writer:
        for _ in range(40):
            writer.write(first)
    from sightline.video.motion import MotionConfig

    pipeline = build_pipeline("still", face_engine=engine, motion=MotionConfig(), face_recognition=False)
    run(pipeline, FrameSource(still).open())
    stats = pipeline.stats()
    assert stats["frames"] == 40
    assert stats["skipped_fraction"] > 0.8


def test_corrupt_video_is_a_clear_error(tmp_path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    result = sightline("video", "process", str(junk), "--json", home=tmp_path / "home")
    assert result.returncode == 7
    assert json.loads(result.stdout)["error"]["code"] == "bad_video"


def test_live_source_is_refused_by_process(tmp_path) -> None:
    result = sightline("video", "process", "rtsp://127.0.0.1:9/x", "--json", home=tmp_path / "home")
    assert result.returncode == 5
