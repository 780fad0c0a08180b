"""Idempotent event ids: the same event of the same camera run always gets the same id.

A camera worker on a cluster can die with its node and be started again elsewhere; a file camera is then
read again from its start. Its events are re-created with the same content, so an id derived from that
content (the run's key, camera, type, label, track, zone, video time and, for recognitions, the subject)
lets the sink store each event once: a replayed event finds its id taken and is neither stored nor sent
again. Only what the pipeline decides from the video goes into the id: never a score (a float that another
CPU may round differently) and never the wall clock.
"""

from __future__ import annotations

import uuid

from sightline.events.models import Event

_NAMESPACE = uuid.UUID("6f4c1a52-33d8-4a8e-9a57-0c5e4f1b2d77")  # Sightline's event-id namespace


def stable_event_id(run_key: str, event: Event) -> str:
    """A UUID (version 5) naming ``event`` within the camera run ``run_key``."""
    start = event.start_time.isoformat(timespec="milliseconds")
    end = event.end_time.isoformat(timespec="milliseconds") if event.end_time is not None else ""
    parts = (run_key, event.camera, event.type.value, event.label, str(event.track_id), event.zone or "", start, end,
             event.subject_id or "")
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))
