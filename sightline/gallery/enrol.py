"""The enrolment quality gate and enrolment from files and folders.

An enrolment image must hold exactly one usable face: big enough, sharp
enough and close enough to frontal. Each rejection names its reason
(``no_face``, ``several_faces``, ``too_small``, ``too_blurred``, ``bad_pose``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from sightline.errors import QualityError, SightlineError
from sightline.vision.faces.quality import MIN_USEFUL_FACE_PX
from sightline.vision.faces.types import Face
from sightline.vision.image_io import ImageInput

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
REASONS = ("no_face", "several_faces", "too_small", "too_blurred", "bad_pose")


@dataclass(frozen=True)
class QualityGate:
    """Thresholds on :class:`FaceQuality` components an enrolment face must meet.

    ``min_face_px``: shorter side of the face box; ``min_sharpness`` and
    ``min_pose`` are the [0, 1] components of the face engine's quality score
    (pose 0.3 is a yaw of about 0.3 inter-ocular distances, a clear half-profile).
    """

    min_face_px: float = 80.0
    min_sharpness: float = 0.35
    min_pose: float = 0.3

    def check(self, faces: list[Face]) -> Face:
        """The one acceptable face; raises :class:`QualityError` whose ``code`` is the reason."""
        if not faces:
            raise QualityError("no face found", code="no_face")
        candidates = [f for f in faces if f.quality is None or f.quality.face_pixels >= MIN_USEFUL_FACE_PX]
        if len(candidates) > 1:
            raise QualityError(f"{len(candidates)} faces found; an enrolment photo must show only the subject",
                               code="several_faces")
        face = candidates[0] if candidates else max(faces, key=lambda f: f.width * f.height)
        quality = face.quality
        if quality is None:
            return face
        if quality.face_pixels < self.min_face_px:
            raise QualityError(f"face is {quality.face_pixels:.0f} px across; at least {self.min_face_px:.0f} "
                               "needed", code="too_small")
        if quality.sharpness < self.min_sharpness:
            raise QualityError(f"face is too blurred (sharpness {quality.sharpness:.2f} < {self.min_sharpness})",
                               code="too_blurred")
        if quality.pose < self.min_pose:
            raise QualityError(f"face is turned too far from the camera (pose {quality.pose:.2f} < "
                               f"{self.min_pose}, yaw {quality.yaw:+.2f}, roll {quality.roll_degrees:+.0f}°)",
                               code="bad_pose")
        return face


@dataclass
class EnrolResult:
    """Outcome of enrolling one image."""

    source: str
    accepted: bool
    template_id: int | None = None
    reason: str | None = None
    message: str | None = None
    quality: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class ImageEnroller(Protocol):
    """What :func:`enroll_files` needs: something that enrols one image (the Gallery does)."""

    def enroll_image(self, subject_id: str, image: ImageInput, *, store_image: bool = False,
                     actor: str | None = None, source: str | None = None) -> EnrolResult: ...


def collect_images(paths: Iterable[str | Path]) -> list[Path]:
    """Image files among ``paths``, folders expanded recursively (sorted); raises if nothing usable."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise SightlineError(f"no such file or folder: {path}", code="not_found")
    if not found:
        raise SightlineError("no images found in " + ", ".join(str(p) for p in paths), code="no_images")
    return found


def enroll_files(gallery: ImageEnroller, subject_id: str, paths: Iterable[str | Path], *, store_images: bool = False,
                 actor: str | None = None, progress: bool = False, console: Console | None = None,
                 on_result: Callable[[EnrolResult], None] | None = None) -> list[EnrolResult]:
    """Enrol every image under ``paths``; each accepted image is committed before the next one starts."""
    files = collect_images(paths)
    results: list[EnrolResult] = []
    bar = Progress(TextColumn("enrolling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[name]}"), console=console or Console(stderr=True),
                   disable=not progress, transient=True)
    with bar:
        task = bar.add_task("enrol", total=len(files), name="")
        for path in files:
            bar.update(task, name=path.name)
            result = gallery.enroll_image(subject_id, path, store_image=store_images, actor=actor)
            results.append(result)
            if on_result is not None:
                on_result(result)
            bar.advance(task)
    return results
