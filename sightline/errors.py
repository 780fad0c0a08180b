"""Error types with stable machine-readable codes.

Every error Sightline raises on bad input or bad configuration derives from
:class:`SightlineError`, carries a short ``code`` (stable, for scripts and the
API) and a human message that says what to do.
"""

from __future__ import annotations


class SightlineError(Exception):
    """Base class for all expected, user-facing errors."""

    code: str = "error"
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, str]:
        """JSON-friendly form used by the CLI's ``--json`` and the API."""
        return {"code": self.code, "message": self.message}


class ImageError(SightlineError):
    """The input is not a usable image (empty, corrupt, truncated, too large...)."""

    code = "bad_image"
    exit_code = 2


class ModelError(SightlineError):
    """A model file is missing, corrupt, or cannot be loaded."""

    code = "model_error"
    exit_code = 3


class NoFaceError(SightlineError):
    """An operation needed exactly one face and found none."""

    code = "no_face"
    exit_code = 4


class MultipleFacesError(SightlineError):
    """An operation needed exactly one face and found several."""

    code = "multiple_faces"
    exit_code = 4


class ConfigError(SightlineError):
    """Configuration is invalid or inconsistent."""

    code = "bad_config"
    exit_code = 5


class ProhibitedUseError(SightlineError):
    """A request for something Sightline refuses to do by design.

    Demographic or ethnicity inference, scraping faces from the web, and
    building movement profiles of people who are not enrolled are out of scope.
    """

    code = "prohibited_use"
    exit_code = 6


class VideoError(SightlineError):
    """A video file or stream cannot be opened or decoded."""

    code = "bad_video"
    exit_code = 7


class LegalBasisError(SightlineError):
    """Enrolment refused: legal basis, purpose, evidence or retention date missing or invalid."""

    code = "legal_basis_required"
    exit_code = 8


class QualityError(SightlineError):
    """An enrolment image failed the quality gate; ``code`` names the reason (no_face, too_small...)."""

    code = "low_quality"
    exit_code = 4


class NotFoundError(SightlineError):
    """The named subject, template or record does not exist (or was erased)."""

    code = "not_found"
    exit_code = 9


class KeyMaterialError(SightlineError):
    """The encryption key is missing, unreadable, too widely readable, or does not decrypt the data."""

    code = "key_error"
    exit_code = 10


class StoreError(SightlineError):
    """The database cannot be opened, migrated or written."""

    code = "store_error"
    exit_code = 11
