"""Display names (subjects, API keys) that cannot hide or forge text where they are shown.

Refused: NUL and every other control character (newlines, tabs, escapes, C1),
line/paragraph separators, and the bidirectional embeddings, overrides and
isolates (U+202A-U+202E, U+2066-U+2069) that can make a name or a log line
read differently from what it is.
"""

from __future__ import annotations

import unicodedata

from sightline.errors import SightlineError

BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class InvalidNameError(SightlineError):
    """A name holds a control character or a bidirectional override."""

    code = "invalid_name"


def bad_character(value: str, *, allow_newlines: bool = False) -> str | None:
    """A description of the first forbidden character in ``value``, or None when it is clean."""
    for position, char in enumerate(value):
        if allow_newlines and char in "\n\t":
            continue
        if char in BIDI_CONTROLS:
            return f"a bidirectional control character (U+{ord(char):04X}) at position {position}"
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"a control character (U+{ord(char):04X}) at position {position}"
    return None


def check_name(value: str, what: str = "name") -> str:
    """``value`` unchanged, or :class:`InvalidNameError` saying which character is not allowed."""
    problem = bad_character(value)
    if problem:
        raise InvalidNameError(f"{what} contains {problem}; control characters, newlines and bidirectional "
                               "overrides are not allowed")
    return value
