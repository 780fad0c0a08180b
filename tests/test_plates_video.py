"""Vehicle passages from a video made of real plate photos: plates voted over frames, the enrolled driver's
face, list hits, direction, blurred snapshots, MQTT (real Mosquitto) and erasure leaving no trace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from plates_support import truth
from plates_video_support import pan_zoom, paste_driver, smudge, write_video
from test_events_mqtt import Broker, Subscriber

from sightline.events.mqtt import MqttPublisher
from sightline.events.sink import EventSink
from sightline.events.store import query_events
from sightline.gallery.gallery import Gallery
from sightline.plates.config import PlatesConfig
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import PlateLists
from sightline.video.runner import build_pipeline, run
from sightline.video.sources import FrameSource
from sightline.vision.plates.reader import VEHICLE_CLASSES

SUBJECT = {"legal_basis": "contract", "purpose": "depot gate: staff drivers", "retention_days": 30}
ENTRY = {"legal_basis": "legitimate_interest", "purpose": "depot gate: expected delivery vans", "retention_days": 30}
FRAMES = 10
SMUDGED = {2: 1, 5: 6, 8: 3}  # frame -> plate character covered with dirt (that frame alone misreads)


def driver_photo(faces_dir: Path, engine) -> tuple[np.ndarray, str]:
    """plates-dev eu/test_002 (a real car, plate RK755AJ) with a real face of Obama in the windscreen,
    on the image's right half (a left-hand-drive car seen from the front)."""
    path, _, plate = truth("eu", "test_002")
    face = cv2.imread(str(faces_dir / "examples" / "obama.jpg"))
    return paste_driver(cv2.imread(str(path)), face, engine), plate


@pytest.fixture(scope="module")
def processed(tmp_path_factory, faces_dir, engine):
    """Obama enrolled, RK755AJ on the watch list; a video of two cars (the first with Obama driving and
    some frames smudged, the second unlisted) processed with plates on; events also go to a real broker."""
    home = tmp_path_factory.mktemp("plates-video")
    gallery = Gallery.open(home, None, engine, actor="test-suite")
    subject = gallery.create_subject(name="Barack Obama", **SUBJECT)
    train = sorted((faces_dir / "examples" / "knn_examples" / "train" / "obama").iterdir())
    assert all(r.accepted for r in gallery.enroll(str(subject["id"]), train))
    lists = PlateLists(gallery.sessions, gallery.audit, PlateHasher.load(home))
    entry = lists.add(list_kind="watch", plate="RK-755 AJ", actor="test-suite", **ENTRY)

    first, plate = driver_photo(faces_dir, engine)
    _, box, _ = truth("eu", "test_002")
    frames = [pan_zoom(smudge(first, box, SMUDGED[i], 7) if i in SMUDGED else first, i, FRAMES)
              for i in range(FRAMES)]
    second_path, _, second_plate = truth("eu", "test_004")
    second = cv2.imread(str(second_path))
    frames += [pan_zoom(second, i, 6, zoom=1.1) for i in range(6)]
    video = write_video(home / "gate.mp4", frames)

    broker = subscriber = publisher = None
    if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
        broker = Broker(home).start()
        subscriber = Subscriber(broker.port)
        publisher = MqttPublisher("127.0.0.1", broker.port).start()
    sink = EventSink(gallery.sessions, mqtt=publisher)
    settings = PlatesConfig(enabled=True, driver_side="right", best_n=10, line=((0.4, 0.0), (0.4, 1.0)))
    pipeline = build_pipeline("gate", gallery=gallery, classes=["person"], motion=None, plates=settings,
                              snapshot_dir=home / "snapshots", sink=sink)
    with FrameSource(video, fps=5.0).open() as source:
        run(pipeline, source)
    if publisher is not None:
        assert publisher.flush(10)
    passages = [e for e in pipeline.events if e.type.value == "vehicle_passage"]
    yield {"home": home, "gallery": gallery, "lists": lists, "entry": entry, "subject": subject, "plate": plate,
           "second_plate": second_plate, "passages": passages, "subscriber": subscriber, "pipeline": pipeline}
    if publisher is not None:
        publisher.close()
        subscriber.close()
        broker.stop()
    gallery.close()


def _listed(processed):
    return [p for p in processed["passages"] if p.data["list_hit"]["match"] != "none"]


def test_one_passage_per_vehicle_with_the_voted_plate(processed) -> None:
    passages = processed["passages"]
    assert len(passages) == 2, [p.to_dict() for p in passages]
    first = _listed(processed)
    assert len(first) == 1
    data = first[0].data
    assert data["plate"] == processed["plate"]
    assert data["list_hit"] == {"match": "exact", "list": "watch", "entry_id": processed["entry"]["id"],
                                "reason": None}
    assert data["reads"] > data["agreeing"] >= data["reads"] // 2, data  # some single frames misread
    assert 0.0 < data["plate_confidence"] <= 1.0
    assert first[0].label in VEHICLE_CLASSES
    assert data["direction"] == "in"


def test_the_enrolled_driver_is_linked_and_audited(processed) -> None:
    first = _listed(processed)[0]
    assert first.subject_id == processed["subject"]["id"]
    assert first.subject_name == "Barack Obama"
    assert first.data["driver_face"] is True
    rows = processed["gallery"].audit.tail(200)
    assert any(r.action == "identify" and r.subject_id == first.subject_id for r in rows)
    assert any(r.action == "plate_list_hit" and r.subject_id == processed["entry"]["id"] for r in rows)


def test_an_unlisted_plate_is_kept_only_as_a_keyed_hash_and_blurred(processed) -> None:
    other = [p for p in processed["passages"] if p.data["list_hit"]["match"] == "none"]
    assert len(other) == 1
    data = other[0].data
    assert data["plate"] is None
    assert data["plate_hash"] == PlateHasher.load(processed["home"]).hash(processed["second_plate"])
    assert other[0].subject_id is None
    stored = json.dumps([e.to_dict() for e in processed["pipeline"].events])
    assert processed["second_plate"] not in stored
    snapshot = cv2.imread(other[0].snapshot)
    from sightline.plates.service import build_plate_reader

    reader = build_plate_reader("eu", vehicles=False, text_fallback=False)
    assert processed["second_plate"] not in [r.text for r in reader.read(snapshot)]


def test_passages_are_stored_and_published_on_the_plate_topic(processed, mosquitto_installed) -> None:
    with processed["gallery"].sessions() as session:
        stored = query_events(session, type="vehicle_passage", limit=10)
    assert {e.id for e in stored} == {p.id for p in processed["passages"]}
    messages = processed["subscriber"].wait_for("sightline/gate/plate", count=2)
    payloads = [json.loads(m.payload) for m in messages]
    assert {"plate": processed["plate"], "list_hit": "exact", "list": "watch"}.items() <= payloads[0].items() \
        or {"plate": processed["plate"], "list_hit": "exact", "list": "watch"}.items() <= payloads[1].items()
    unlisted = [p for p in payloads if p["list_hit"] == "none"]
    assert unlisted and unlisted[0]["plate"] is None and len(unlisted[0]["plate_hash"]) == 64


def test_erasing_the_driver_and_the_list_entry_leaves_no_trace(processed) -> None:
    gallery, lists = processed["gallery"], processed["lists"]
    first = _listed(processed)[0]
    assert first.snapshot and Path(first.snapshot).exists()
    gallery.erase(processed["subject"]["id"], actor="test-suite")
    with gallery.sessions() as session:
        after = {e.id: e for e in query_events(session, type="vehicle_passage", limit=10)}
    assert after[first.id].subject_id is None and after[first.id].subject_name is None
    assert not Path(first.snapshot).exists()  # it showed the driver's face unblurred
    assert "Obama" not in json.dumps(after[first.id].to_dict())

    counts = lists.erase(processed["entry"]["id"], actor="test-suite")
    assert counts["passages"] == 1
    with gallery.sessions() as session:
        left = query_events(session, type="vehicle_passage", limit=10)
    dump = json.dumps([e.to_dict() for e in left])
    assert [e.id for e in left] != [] and first.id not in {e.id for e in left}
    assert processed["plate"] not in dump and processed["entry"]["id"] not in dump
    assert PlateHasher.load(processed["home"]).hash(processed["plate"]) not in dump
