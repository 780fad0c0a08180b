"""The camera configuration's schema: pydantic models for one YAML document (cameras, zones, MQTT, webhooks...).

Validation and friendly error messages live in :mod:`sightline.video.config`, which re-exports these names.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator, model_validator

from sightline.config import default_data_dir
from sightline.plates.config import PlatesConfig
from sightline.vision.objects.labels import COCO_LABELS

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # safe in MQTT topics, file names and URLs
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
NAME_RULE = "names must be 1-64 letters, digits, '_' or '-' (they are used in MQTT topics and file names)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneConfig(_Strict):
    """A named polygon; ``units`` auto means relative when every coordinate lies in [0, 1]."""

    points: list[tuple[float, float]] = Field(min_length=3)
    units: Literal["auto", "pixel", "relative"] = "auto"
    classes: list[str] | None = None
    inertia: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _points_shorthand(cls, value: Any) -> Any:
        return {"points": value} if isinstance(value, list) else value

    @field_validator("points")
    @classmethod
    def _non_negative(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(x < 0 or y < 0 for x, y in points):
            raise ValueError("coordinates must be >= 0")
        return points

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str] | None) -> list[str] | None:
        return None if classes is None else _check_classes(classes)

    @model_validator(mode="after")
    def _relative_in_range(self) -> ZoneConfig:
        if self.units == "relative" and any(x > 1 or y > 1 for x, y in self.points):
            raise ValueError("relative coordinates must lie in [0, 1]")
        return self

    @property
    def is_relative(self) -> bool:
        if self.units != "auto":
            return self.units == "relative"
        return all(x <= 1 and y <= 1 for x, y in self.points)

    def pixel_points(self, width: int, height: int) -> list[tuple[float, float]]:
        """The polygon in pixels of a ``width`` x ``height`` frame."""
        if self.is_relative:
            return [(x * width, y * height) for x, y in self.points]
        return list(self.points)


class MotionSettings(_Strict):
    """Motion gate: ``threshold`` is the per-pixel grey difference, ``min_area`` the smallest contour (px)."""

    enabled: bool = True
    threshold: int = Field(default=25, gt=0, lt=255)
    min_area: float = Field(default=15.0, ge=0)


class FaceRecognitionSettings(_Strict):
    """Identify faces inside person tracks against the gallery, every ``identify_every_n_frames`` frames."""

    enabled: bool = False
    identify_every_n_frames: int = Field(default=5, ge=1, le=10_000)


class CameraConfig(_Strict):
    """One camera: where frames come from, what to look for, and where."""

    url: str | int
    enabled: bool = True
    fps: float = Field(default=5.0, gt=0, le=60)
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_score: float = Field(default=0.5, gt=0, le=1)
    zones: dict[Name, ZoneConfig] = Field(default_factory=dict)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    face_recognition: FaceRecognitionSettings = Field(default_factory=FaceRecognitionSettings)
    plates: PlatesConfig = Field(default_factory=PlatesConfig)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | int) -> str | int:
        if isinstance(url, int):
            if url < 0:
                raise ValueError("webcam index must be >= 0")
            return url
        url = url.strip()
        if not url:
            raise ValueError("must not be empty")
        if url.isdigit():
            return int(url)
        scheme = urlsplit(url).scheme.lower()
        if len(scheme) > 1 and scheme not in (*STREAM_SCHEMES, "file"):  # one letter: a Windows drive
            raise ValueError(f"unsupported scheme {scheme!r}: use a file path, file://, rtsp://, rtsps://, "
                             "http(s):// or a webcam index / /dev/video device")
        if scheme in STREAM_SCHEMES and not urlsplit(url).hostname:
            raise ValueError("stream URL has no host")
        return url

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str]) -> list[str]:
        return _check_classes(classes)

    @property
    def source_kind(self) -> Literal["webcam", "file", "rtsp", "http"]:
        """What kind of source ``url`` names."""
        if isinstance(self.url, int) or self.url.startswith("/dev/video"):
            return "webcam"
        scheme = urlsplit(self.url).scheme.lower()
        if scheme.startswith("rtsp"):
            return "rtsp"
        if scheme.startswith("http"):
            return "http"
        return "file"

    @property
    def file_path(self) -> Path | None:
        """The local file for file sources, else None."""
        if self.source_kind != "file":
            return None
        assert isinstance(self.url, str)
        return Path(urlsplit(self.url).path if self.url.startswith("file://") else self.url).expanduser()

    def to_motion_config(self):
        """Settings for :class:`sightline.video.motion.MotionGate` (None when the gate is off)."""
        if not self.motion.enabled:
            return None
        from sightline.video.motion import MotionConfig

        return MotionConfig(threshold=self.motion.threshold, min_contour_area=self.motion.min_area)


class MqttConfig(_Strict):
    """The MQTT broker events are published to."""

    enabled: bool = True
    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    topic_prefix: str = Field(default="sightline", pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_certs: str | None = None
    keepalive: int = Field(default=60, ge=5, le=3600)
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password given without username")
        return self


class WebhooksConfig(_Strict):
    """HTTP endpoints that get every event as a JSON POST."""

    urls: list[HttpUrl] = Field(min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=3, ge=0, le=20)
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)


class RetentionConfig(_Strict):
    """How long events and their snapshots are kept."""

    event_days: int = Field(default=30, ge=1, le=3650)
    snapshot_days: int = Field(default=7, ge=1, le=3650)


class StorageConfig(_Strict):
    """Where the database and media go (defaults under ``$SIGHTLINE_HOME``)."""

    root: Path = Field(default_factory=default_data_dir)
    snapshots: Path | None = None
    db_url: str | None = None

    @property
    def snapshot_dir(self) -> Path:
        return (self.snapshots or self.root / "snapshots").expanduser()


class PrivacyConfig(_Strict):
    """Privacy defaults; unknown faces are blurred in stored media and never stored."""

    blur_unknown_faces: bool = True
    store_unknown_faces: bool = False


class SightlineConfig(_Strict):
    """The whole file."""

    cameras: dict[Name, CameraConfig] = Field(min_length=1)
    mqtt: MqttConfig | None = None
    webhooks: WebhooksConfig | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    def enabled_cameras(self) -> dict[str, CameraConfig]:
        return {name: cam for name, cam in self.cameras.items() if cam.enabled}

    def warnings(self) -> list[str]:
        """Things that are valid but probably not what was meant."""
        out = []
        for name, cam in self.cameras.items():
            path = cam.file_path
            if path is not None and not path.exists():
                out.append(f"cameras.{name}.url: file {path} does not exist")
        if not self.privacy.blur_unknown_faces:
            out.append("privacy.blur_unknown_faces is false: faces of people who never consented will be visible "
                       "in stored snapshots")
        if self.privacy.store_unknown_faces:
            out.append("privacy.store_unknown_faces is true: crops of unknown faces will be kept; make sure you "
                       "have a legal basis for it")
        if self.mqtt and self.mqtt.password and not self.mqtt.tls:
            out.append("mqtt.password is sent in clear text: set mqtt.tls: true")
        return out


def _check_classes(classes: list[str]) -> list[str]:
    known = set(COCO_LABELS)
    norm = [" ".join(c.strip().lower().replace("_", " ").replace("-", " ").split()) for c in classes]
    unknown = [c for c in norm if c not in known]
    if unknown:
        hints = [f"{c!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(c, known, 1)) else "")
                 for c in unknown]
        raise ValueError(f"unknown object class {', '.join(hints)}; use COCO names such as person, car, dog")
    return list(dict.fromkeys(norm))


_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:pass|pwd|token|secret|key|auth|sig)[^=&#]*=)[^&#]*", re.I)


def redact_url(url: str | int) -> str:
    """``url`` with any password (and secret-looking query values such as ``token=``) replaced by ``***``
    (for printing)."""
    if isinstance(url, int):
        return str(url)
    parts = urlsplit(url)
    if parts.scheme and len(parts.scheme) > 1:
        url = _SECRET_QUERY.sub(r"\1***", url)
        parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
