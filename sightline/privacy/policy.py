"""What Sightline refuses to do: infer sensitive attributes of people, or link unknown people across cameras.

One policy for every entry point: API parameters (:func:`check_attributes`) and configuration
documents such as the camera YAML (:func:`check_config_document`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

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


# Keys that ask for linking people who are not enrolled across cameras or over time.
_REID_KEY = re.compile(r"(^|_)re_?id(entif\w*)?(_|$)|cross_camera|link_unknown|unknown_across|track_unknown_across")
# Protected characteristics Sightline never infers from a face or body.
DEMOGRAPHIC_WORDS = PROHIBITED_ATTRIBUTES | {"ethnic", "racial", "demographics", "demographic"}
_DEMOGRAPHIC_KEY = re.compile(
    r"^(detect|estimate|infer|predict|classify)_(age|gender|sex|ethnicity|race)$"
    r"|^(age|gender|sex|ethnicity|race)_(estimation|classification|detection|inference|recognition|prediction)$"
)
_LIST_KEYS_CHECKED = frozenset({"attributes", "face_attributes", "classes", "labels", "analyze", "analyse"})

REID_WHY = ("Sightline never links people who are not enrolled across cameras or over time: that builds movement "
            "profiles of people who never consented. Only enrolled subjects are named; unknown tracks stay local "
            "to one camera. Remove this key.")
DEMOGRAPHIC_WHY = ("Sightline does not infer age, gender, ethnicity or other protected characteristics: such "
                   "inference is unreliable, discriminatory and out of scope by design. Remove this key.")


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield (*path, str(key)), str(key), value
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "off", "0", "none")
    return bool(value)


def _words(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {str(v).strip().lower().replace("-", "_").replace(" ", "_") for v in items if isinstance(v, str | int)}


def check_config_document(raw: Any) -> list[tuple[str, ...]]:
    """Raise :class:`ProhibitedUseError` for keys asking for re-identification of unknown people or
    demographic inference; return the paths of such keys that are explicitly switched off (to drop)."""
    switched_off = []
    for path, key, value in _walk(raw):
        norm = key.strip().lower().replace("-", "_").replace(" ", "_")
        dotted = ".".join(path)
        if _REID_KEY.search(norm):
            if _truthy(value):
                raise ProhibitedUseError(f"{dotted}: {REID_WHY}")
            switched_off.append(path)
        elif norm in DEMOGRAPHIC_WORDS or _DEMOGRAPHIC_KEY.match(norm):
            if _truthy(value):
                raise ProhibitedUseError(f"{dotted}: {DEMOGRAPHIC_WHY}")
            switched_off.append(path)
        elif norm in _LIST_KEYS_CHECKED and (bad := sorted(_words(value) & DEMOGRAPHIC_WORDS)):
            raise ProhibitedUseError(f"{dotted}: asks for {', '.join(bad)}. {DEMOGRAPHIC_WHY}")
        elif norm in ("attributes", "face_attributes") and not _truthy(value):
            switched_off.append(path)
    return switched_off


def drop_key(raw: Any, path: tuple[str, ...]) -> None:
    """Remove the key at ``path`` from a parsed YAML/JSON document (used for switched-off keys)."""
    node = raw
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)


def check_request_params(params: Iterable[tuple[str, Any]]) -> None:
    """Raise :class:`ProhibitedUseError` when request parameters (query string, form or JSON fields) ask for
    demographic inference or for linking unknown people: the rule of :func:`check_config_document`.

    ``attributes=age``, ``attributes=box,gender``, ``attributes[]=race``, ``estimate_age=1`` and
    ``reid_unknown=true`` are refused; a switched-off key (``age=false``) is ignored, as in config files.
    """
    document: dict[str, Any] = {}
    for key, value in params:
        name = str(key).strip()
        name = name[:-2] if name.endswith("[]") else name
        values = value.split(",") if isinstance(value, str) else [value]
        document.setdefault(name, []).extend(values)
    for name, values in document.items():
        check_config_document({name: values[0] if len(values) == 1 else values})
