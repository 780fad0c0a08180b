"""What one registered model file is: task, integrity, licence, provenance, input and accuracy."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Task(StrEnum):
    """The job a model does; a backend composes models of one or more tasks."""

    FACE_DETECTOR = "face_detector"
    FACE_LANDMARKS = "face_landmarks"
    FACE_EMBEDDER = "face_embedder"
    OBJECT_DETECTOR = "object_detector"
    PLATE_DETECTOR = "plate_detector"
    TEXT_RECOGNISER = "text_recogniser"
    LIVENESS = "liveness"


class Provenance(StrEnum):
    """How far the file's origin is established."""

    OFFICIAL = "official"  # sha256 equals the upstream release's own hash
    PACKAGE = "package"  # shipped as-is inside a published pip/npm package
    CONVERTED = "converted"  # converted to ONNX from a published model (recipe recorded)
    UNVERIFIED = "unverified"  # third-party copy or unstated origin: hash matches no release


@dataclass(frozen=True)
class InputSpec:
    """How the network wants its input: size (width, height), colour order, scaling and tensor layout."""

    size: tuple[int, int] | None = None  # None: any size / set at run time
    colour: str = "bgr"  # bgr | rgb | grey
    scale: str = "0-255"  # e.g. 0-255, (x-127.5)/128, mean/std
    layout: str = "nchw"  # nchw | nhwc | dlib (dlib objects take their own images)
    crop: str = ""  # how the face/object crop is made, where it matters

    def describe(self) -> str:
        """One line, e.g. ``112x112 RGB (x-127)/128 NCHW``."""
        size = f"{self.size[0]}x{self.size[1]} " if self.size else ""
        return f"{size}{self.colour.upper()} {self.scale} {self.layout.upper()}".strip()


@dataclass(frozen=True)
class ModelSpec:
    """One weight file and everything needed to find, verify, feed and credit it."""

    name: str
    task: Task
    filename: str  # path relative to a models directory
    sha256: str
    licence: str
    provenance: Provenance
    description: str = ""
    url: str | None = None  # direct download; None where the file must be converted or unpacked by hand
    commercial_use: bool = True  # False: weights or training data forbid commercial use (opt-in only)
    input: InputSpec = field(default_factory=InputSpec)
    published_accuracy: str = "—"
    measured_accuracy: str = "—"
    package: str | None = None  # Python package that ships the file, if any
    package_path: str | None = None  # path inside that package
    how_to_get: str = ""
    variants: dict[str, str] = field(default_factory=dict)  # e.g. {"int8": "lpd-yunet-int8"}
    notes: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form for ``models list --json`` and the API."""
        out = asdict(self)
        out["task"] = str(self.task)
        out["provenance"] = str(self.provenance)
        out["input"]["size"] = list(self.input.size) if self.input.size else None
        return out
