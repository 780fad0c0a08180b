"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint is (seq, head hash, time), signed with HMAC-SHA256 under the audit
key. Checkpoints are appended as JSON Lines to ``$SIGHTLINE_HOME/audit/checkpoints.jsonl``
(0600; a file the database cannot rewrite) and handed to every registered hook
(e.g. an MQTT or webhook publisher), so a copy can live on another machine.
``audit verify`` then proves that the chain still holds the recorded head at
that seq, and that nothing after it was cut off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "audit"
CHECKPOINT_FILE = "checkpoints.jsonl"
_DOMAIN = b"sightline-audit-checkpoint:"


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement "the chain had ``seq`` rows ending in ``head`` at ``time``"."""

    seq: int
    head: str
    time: str
    key_id: str
    sig: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _signature(key: bytes, seq: int, head: str, time: str, key_id: str) -> str:
    message = _DOMAIN + _canonical({"seq": seq, "head": head, "time": time, "key_id": key_id})
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_checkpoint(key: bytes, key_id: str, seq: int, head: str, *, time: str | None = None) -> Checkpoint:
    """A checkpoint of (seq, head) signed with ``key``."""
    when = time or datetime.now(UTC).isoformat(timespec="seconds")
    return Checkpoint(seq, head, when, key_id, _signature(key, seq, head, when, key_id))


def signature_ok(key: bytes, checkpoint: Checkpoint) -> bool:
    """Whether ``checkpoint`` was signed with ``key`` and not altered since."""
    expected = _signature(key, checkpoint.seq, checkpoint.head, checkpoint.time, checkpoint.key_id)
    return hmac.compare_digest(expected, checkpoint.sig)


@dataclass
class CheckpointRead:
    """What the checkpoint file holds: parsed checkpoints (file order) and unreadable lines."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)


class CheckpointFile:
    """The append-only JSON Lines file of checkpoints under a data home."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def under(cls, home: Path) -> CheckpointFile:
        """The checkpoint file of a data home."""
        return cls(Path(home) / CHECKPOINT_DIR / CHECKPOINT_FILE)

    def append(self, checkpoint: Checkpoint) -> None:
        """Add one line (O_APPEND, fsync'd); the file and its folder are private to the owner."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(checkpoint.to_dict(), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> CheckpointRead:
        """Every checkpoint in the file (none if it does not exist)."""
        found = CheckpointRead()
        if not self.path.is_file():
            return found
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    found.checkpoints.append(Checkpoint(int(data["seq"]), str(data["head"]), str(data["time"]),
                                                        str(data["key_id"]), str(data["sig"])))
                except (ValueError, KeyError, TypeError):
                    found.bad_lines.append(number)
        return found

    def newest(self) -> Checkpoint | None:
        """The last checkpoint written, or None."""
        checkpoints = self.read().checkpoints
        return checkpoints[-1] if checkpoints else None


CheckpointHook = Callable[[Checkpoint], None]
_HOOKS: dict[str, CheckpointHook] = {}


def add_checkpoint_hook(name: str, hook: CheckpointHook) -> None:
    """Also hand every new checkpoint to ``hook`` (e.g. publish it over MQTT, a webhook or syslog)."""
    _HOOKS[name] = hook


def remove_checkpoint_hook(name: str) -> None:
    """Stop calling the hook registered as ``name``."""
    _HOOKS.pop(name, None)


def publish(checkpoint: Checkpoint) -> dict[str, str]:
    """Call every hook; a failing hook is logged and reported, never fatal. Returns {name: "ok" | error}."""
    results: dict[str, str] = {}
    for name, hook in sorted(_HOOKS.items()):
        try:
            hook(checkpoint)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - one broken publisher must not stop the file copy or the others
            log.warning("audit checkpoint hook %s failed: %s", name, exc)
            results[name] = f"error: {exc}"
    return results
