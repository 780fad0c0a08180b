"""The audit chain's hashing rules and the walk that checks them, row by row.

Two rules, one chain:

- **legacy** rows (written before the chain was keyed) carry
  ``sha256(canonical JSON of the row, prev_hash included)``;
- from the **keyed-start row** (action ``audit.keyed``) on, every row carries
  ``HMAC-SHA256(audit key, same canonical JSON)``. The key lives outside the
  database, so whoever can only rewrite the database cannot recompute a
  valid hash after deleting or editing a row. The keyed-start row links to the
  last legacy row, so the legacy history as it stood at the switch is sealed too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

GENESIS_HASH = "0" * 64
KEYED_START = "audit.keyed"  # action of the row from which the chain is keyed
KEYED_ALGORITHM = "hmac-sha256"


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8) used for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(seq: int, ts: str, actor: str, action: str, subject_id: str | None, outcome: str,
             details: str, prev_hash: str, key: bytes | None = None) -> str:
    """Hash of one row's canonical form: HMAC-SHA256 under ``key``, or plain sha256 (legacy rows) without."""
    payload = canonical_json({"seq": seq, "ts": ts, "actor": actor, "action": action, "subject_id": subject_id,
                              "outcome": outcome, "details": details, "prev_hash": prev_hash}).encode("utf-8")
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


@dataclass
class ChainReport:
    """Result of checking the whole chain (and the checkpoints recorded outside it)."""

    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    keyed_from: int | None = None  # seq of the keyed-start row (None: the chain is not keyed)
    verified_through: int | None = None  # last seq known good (on failure)
    checkpoint: dict[str, object] | None = None  # the newest checkpoint checked against the chain
    checkpoints_checked: int = 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class ChainWalker:
    """Checks rows in seq order; :meth:`step` returns (bad seq, reason) at the first row that does not fit."""

    key: bytes | None
    key_id: str | None
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    rows: int = 0
    keyed_from: int | None = None
    _last_ts: str | None = field(default=None, repr=False)

    @property
    def head_seq(self) -> int:
        return self.expected_seq - 1

    def step(self, row: Any) -> tuple[int, str] | None:
        """Check one row (anything with the audit columns as attributes)."""
        self.rows += 1
        if row.seq > self.expected_seq:
            return self.expected_seq, (f"seq {self.expected_seq} is missing (row deleted): the chain jumps from seq "
                                       f"{self.head_seq} to seq {row.seq}")
        if row.seq < self.expected_seq:
            return row.seq, f"seq {row.seq} appears out of order (row inserted)"
        if self.keyed_from is None and row.action == KEYED_START:
            bad = self._start_keyed(row)
            if bad is not None:
                return bad
        if row.prev_hash != self.prev_hash:
            return row.seq, f"seq {row.seq} does not link to the row before it (row inserted or replaced)"
        keyed = self.keyed_from is not None
        if row.hash != row_hash(row.seq, row.ts, row.actor, row.action, row.subject_id, row.outcome, row.details,
                                row.prev_hash, self.key if keyed else None):
            if keyed:
                return row.seq, (f"seq {row.seq} does not carry a valid keyed hash: the chain was rewritten from "
                                 f"seq {row.seq} on (a row deleted, inserted or edited, and the later hashes "
                                 f"recomputed without the key); the last good row is seq {self.head_seq}"
                                 + (f" ({self._last_ts})" if self._last_ts else ""))
            return row.seq, f"seq {row.seq} was edited (its content no longer matches its hash)"
        self.expected_seq, self.prev_hash, self._last_ts = row.seq + 1, row.hash, row.ts
        return None

    def _start_keyed(self, row: Any) -> tuple[int, str] | None:
        try:
            details = json.loads(row.details)
        except ValueError:
            details = {}
        chain_key_id = details.get("key_id") if isinstance(details, dict) else None
        if self.key is None:
            return row.seq, (f"the chain is keyed from seq {row.seq} (audit key {chain_key_id}) but no audit key is "
                             "available: restore $SIGHTLINE_HOME/audit/chain.hmac or set $SIGHTLINE_AUDIT_KEY")
        if chain_key_id != self.key_id:
            return row.seq, (f"the chain is keyed from seq {row.seq} with audit key {chain_key_id}, "
                             f"but the key available is {self.key_id}")
        self.keyed_from = row.seq
        return None
