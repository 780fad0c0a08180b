"""Camera events: what happened (models), where (zones), and where it goes (store, MQTT, webhooks, snapshots).

Outputs are imported from their modules (``sightline.events.mqtt``...) so that
importing the models does not pull in paho, httpx or SQLAlchemy.
"""

from sightline.events.models import Event, EventError, EventType

__all__ = ["Event", "EventError", "EventType"]
