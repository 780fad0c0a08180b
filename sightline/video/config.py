"""The camera configuration file: one YAML document validated with pydantic.

:func:`load_config` reads a file, :func:`parse_config` a mapping. Every problem
is reported with the dotted path of the bad key (``cameras.gate.fps: must be > 0``)
in a :class:`ConfigValidationError`. Requests Sightline refuses by design
(re-identifying unknown people across cameras, inferring age, gender, ethnicity
and the like) raise :class:`~sightline.errors.ProhibitedUseError` instead.
The models themselves are in :mod:`sightline.video.camera_schema` (re-exported here).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from sightline.errors import ConfigError
from sightline.privacy.policy import check_config_document, drop_key
from sightline.video.camera_schema import (
    NAME_PATTERN,
    NAME_RULE,
    STREAM_SCHEMES,
    CameraConfig,
    FaceRecognitionSettings,
    MotionSettings,
    MqttConfig,
    PrivacyConfig,
    RetentionConfig,
    SightlineConfig,
    StorageConfig,
    WebhooksConfig,
    ZoneConfig,
    redact_url,
)

__all__ = ["MAX_CONFIG_BYTES", "NAME_PATTERN", "NAME_RULE", "STREAM_SCHEMES", "CameraConfig", "ConfigValidationError",
           "FaceRecognitionSettings", "MotionSettings", "MqttConfig", "PrivacyConfig", "RetentionConfig",
           "SightlineConfig", "StorageConfig", "WebhooksConfig", "ZoneConfig", "load_config", "load_yaml",
           "parse_camera", "parse_config", "redact_url"]

MAX_CONFIG_BYTES = 1024 * 1024


class ConfigValidationError(ConfigError):
    """The config file is invalid; ``problems`` lists each bad key path with what is wrong."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}\n{lines}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_dict()
        out["problems"] = [{"path": path, "message": message} for path, message in self.problems]
        return out


# ---------------------------------------------------------------- loading


def _describe(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {bounds[kind]} {limit}"
    if kind == "string_pattern_mismatch" and error["loc"][-1] == "[key]":
        return f"bad name {error['input']!r}: {NAME_RULE}"
    if kind == "missing":
        return "required key is missing"
    if kind == "too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"]).removeprefix("Value error, ")


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside ``annotation`` (``X``, ``X | None`` or ``dict[str, X]``); True if a dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    is_dict = get_origin(annotation) is dict
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, is_dict
    return None, False


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names valid where the unknown key ``loc[-1]`` sits (for 'did you mean' hints)."""
    model: type[BaseModel] | None = SightlineConfig
    parts = list(loc[:-1])
    while parts and model is not None:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        model, is_dict = _model_in(field.annotation)
        if is_dict:
            if not parts:
                return []
            parts.pop(0)  # the camera or zone name
    return list(model.model_fields) if model is not None else []


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if p != "[key]" and not str(p).startswith(("function-", "tagged-union")))
        # pydantic names union members (e.g. 'int', 'str', 'MqttConfig'); keep only the key path.
        loc = tuple(p for p in loc if p not in ("int", "str", "list[str]", "MqttConfig", "WebhooksConfig")
                    and not str(p).startswith(("list[", "tuple[")))
        path = ".".join(str(p) for p in loc) or "(top level)"
        message = _describe(error)
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), 1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        out.append((path, message))
    return list(dict.fromkeys(out))


def parse_config(raw: Any, *, source: str = "config") -> SightlineConfig:
    """Validate an already-parsed YAML/JSON document."""
    if raw is None:
        raise ConfigValidationError(source, [("(top level)", "the file is empty; declare at least one camera")])
    if not isinstance(raw, dict):
        raise ConfigValidationError(source, [("(top level)", "must be a mapping with a 'cameras' key")])
    for path in check_config_document(raw):
        drop_key(raw, path)
    try:
        return SightlineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigValidationError(source, _problems(exc)) from None


def parse_camera(name: str, raw: Any, *, source: str = "camera") -> CameraConfig:
    """Validate one camera (the value under ``cameras.<name>`` of a config file) exactly as a whole file is
    validated: the same schema, messages and key paths (``cameras.gate.fps: must be > 0``), the same refusals."""
    if not isinstance(raw, dict):
        raise ConfigValidationError(source, [(f"cameras.{name}", "must be a mapping of camera settings")])
    return parse_config({"cameras": {name: dict(raw)}}, source=source).cameras[name]


def _duplicate_key(node: yaml.Node, path: tuple[str, ...] = ()) -> tuple[str, int] | None:
    """(dotted path, line) of the first key repeated within one mapping; YAML would silently keep the last."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                return ".".join((*path, key)), key_node.start_mark.line + 1
            seen.add(key)
            if found := _duplicate_key(value_node, (*path, key)):
                return found
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if found := _duplicate_key(item, (*path, str(index))):
                return found
    return None


def load_yaml(text: str, *, source: str = "config") -> Any:
    """Parse YAML safely, turning syntax errors and repeated keys into a :class:`ConfigValidationError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if duplicate := _duplicate_key(node):
            raise ConfigValidationError(source, [(duplicate[0], f"key repeated on line {duplicate[1]}")])
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigValidationError(source, [(where, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigValidationError(source, [("(top level)", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()


def load_config(path: str | Path) -> SightlineConfig:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; is this the right file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", code="config_not_found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return parse_config(load_yaml(text, source=str(path)), source=str(path))
