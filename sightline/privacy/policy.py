"""What Sightline refuses to infer: demographic and other sensitive attributes of people."""

from __future__ import annotations

from collections.abc import Iterable

from sightline.errors import ProhibitedUseError, SightlineError

# Attributes a caller may ask for about a detected face.
ALLOWED_ATTRIBUTES = frozenset({"box", "landmarks", "quality", "score"})
# Never inferred, whatever the model could do (GDPR art. 9 special categories and proxies for them).
PROHIBITED_ATTRIBUTES = frozenset({
    "age", "gender", "sex", "ethnicity", "race", "skin_tone", "skin_colour", "skin_color", "religion",
    "sexual_orientation", "political_opinion", "health", "disability", "emotion", "mood", "attractiveness",
    "beauty", "nationality", "origin",
})


def check_attributes(requested: Iterable[str] | None) -> list[str]:
    """The requested attributes, lower-cased; raises :class:`ProhibitedUseError` for sensitive ones."""
    names = [str(name).strip().lower().replace("-", "_") for name in (requested or [])]
    prohibited = sorted({n for n in names if n in PROHIBITED_ATTRIBUTES})
    if prohibited:
        raise ProhibitedUseError(f"Sightline does not infer {', '.join(prohibited)}: demographic and other "
                                 "sensitive attributes are out of scope by design")
    unknown = sorted({n for n in names if n not in ALLOWED_ATTRIBUTES})
    if unknown:
        raise SightlineError(f"unknown face attribute(s) {', '.join(unknown)}; available: "
                             f"{', '.join(sorted(ALLOWED_ATTRIBUTES))}", code="bad_request")
    return names
