"""Append-only audit log: each row chained to the previous one, keyed with an HMAC key kept outside the database.

A row records when, who (actor), what (action), which subject (its
pseudonymous id) and the outcome, plus small JSON details; never an image,
an embedding or a score vector. Each row's hash covers its content and the
previous row's hash, so editing, inserting or deleting any row breaks the
chain at that row. The hash is HMAC-SHA256 under the audit key (see
:mod:`sightline.privacy.audit_chain` and :func:`sightline.privacy.crypto.load_audit_key`):
someone who can rewrite the database but not read the key cannot recompute
the hashes after removing a row. Databases from before the key keep their
rows; one ``audit.keyed`` row starts the keyed part and seals what came before.

Cutting rows off the *end* leaves a valid chain, so signed checkpoints (seq,
head) are written outside the database (:func:`write_checkpoint`, a file under
the data home and any registered hook) and :meth:`AuditLog.verify` checks the
chain against every one of them. Appends are serialised (SQLite: writing
transactions are ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory
lock), so concurrent writers still produce one linear chain; verification only
reads (one snapshot, streamed in chunks) and never holds the write lock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.errors import KeyMaterialError, SightlineError
from sightline.privacy.audit_chain import (
    GENESIS_HASH,
    KEYED_ALGORITHM,
    KEYED_START,
    ChainReport,
    ChainWalker,
    canonical_json,
    row_hash,
)
from sightline.privacy.checkpoints import Checkpoint, CheckpointFile, publish, sign_checkpoint, signature_ok
from sightline.privacy.crypto import audit_key_id, audit_key_path, load_audit_key
from sightline.store import audit_repo
from sightline.store.audit_repo import AUDIT_LOCK
from sightline.store.db import database_dir
from sightline.store.tables import AuditEntry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["AUDIT_LOCK", "GENESIS_HASH", "KEYED_START", "AuditLog", "ChainReport", "canonical_json",
           "entry_to_dict", "row_hash", "search", "write_checkpoint"]

log = logging.getLogger(__name__)
MAX_NUMBER_LIST = 8  # longer lists of numbers look like biometric vectors and are refused
SYSTEM_ACTOR = "sightline"
VERIFY_CHUNK = 2000


def _check_details(value: Any, path: str = "details") -> None:
    """Refuse anything that could carry biometric data into the log."""
    if isinstance(value, np.ndarray | bytes | bytearray | memoryview):
        raise SightlineError(f"audit {path} must not hold arrays or binary data", code="audit_biometric")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_details(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        if len(value) > MAX_NUMBER_LIST and all(isinstance(v, float) for v in value):
            raise SightlineError(f"audit {path} looks like a feature vector; not logged", code="audit_biometric")
        for index, item in enumerate(value):
            _check_details(item, f"{path}[{index}]")


def entry_to_dict(entry: AuditEntry) -> dict[str, object]:
    """JSON form of a row (details parsed)."""
    return {"seq": entry.seq, "ts": entry.ts, "actor": entry.actor, "action": entry.action,
            "subject_id": entry.subject_id, "outcome": entry.outcome, "details": json.loads(entry.details),
            "prev_hash": entry.prev_hash, "hash": entry.hash}


class AuditLog:
    """The audit chain in one database, keyed with the audit key of a data home.

    ``AuditLog(sessions, home)`` loads (or, for a chain not keyed yet, creates) the key
    ``home/audit/chain.hmac`` (or takes ``$SIGHTLINE_AUDIT_KEY``), starts the keyed chain if the
    database has none yet, and keeps checkpoints in ``home/audit/checkpoints.jsonl``. An SQLite
    database opened from another data home uses the key beside the database file if the home has
    none (the key follows the chain it signs, never a fresh one). Without a
    home or key (tools and tests only) it reads and appends legacy sha256 rows, and refuses to
    append to a chain that is already keyed.
    """

    def __init__(self, sessions: sessionmaker[Session], home: Path | None = None, *, key: bytes | None = None,
                 checkpoints: CheckpointFile | None = None, start_keyed: bool = True) -> None:
        self.sessions = sessions
        self.home = Path(home) if home is not None else None
        self._key = key
        self.checkpoints = checkpoints or (CheckpointFile.under(self.home) if self.home is not None else None)
        self._keyed_from: int | None = None  # seq of the committed keyed-start row, once seen
        if start_keyed:
            self.start_keyed()

    # -- keys ------------------------------------------------------------------------------------------------------
    def key(self, *, create: bool = False) -> bytes | None:
        """The audit key (explicit, ``$SIGHTLINE_AUDIT_KEY`` or the home's key file), or None if there is none."""
        if self._key is None:
            bind = getattr(self.sessions, "write_bind", None) or self.sessions.kw.get("bind")
            folder = database_dir(bind) if bind is not None else None
            also = [folder] if folder is not None and self.home is not None and folder != self.home.resolve() else []
            self._key = load_audit_key(self.home, create=create, also=also)
        return self._key

    @property
    def key_id(self) -> str | None:
        key = self.key()
        return audit_key_id(key) if key is not None else None

    def _missing_key(self, keyed_from: int) -> KeyMaterialError:
        where = f"restore {audit_key_path(self.home)} or set" if self.home else "set"
        return KeyMaterialError(f"the audit chain is keyed from seq {keyed_from} but no audit key is available: "
                                f"{where} $SIGHTLINE_AUDIT_KEY (a new key would not verify the existing chain)")

    def start_keyed(self) -> int | None:
        """Make sure the chain is keyed (write the keyed-start row and a first checkpoint if it is not yet).

        Returns the seq of the keyed-start row, or None when no key can be had (no home, no
        ``$SIGHTLINE_AUDIT_KEY``). A keyed chain with its key missing is an error, never a new key.
        """
        with self.sessions() as session:
            marker = audit_repo.first_seq_of_action(session, KEYED_START)
        if marker is not None:
            if self.key() is None:
                raise self._missing_key(marker)
            self._keyed_from = marker
            return marker
        if self.key(create=True) is None:
            return None
        with self.sessions.begin() as session:
            audit_repo.lock_chain(session)
            marker = self._keyed_start(session)
        self._keyed_from = marker
        if self.checkpoints is not None:
            write_checkpoint(self)
        return marker

    def _keyed_start(self, session: Session) -> int:
        """Inside a locked writing transaction: the keyed-start row's seq, inserting it if absent."""
        marker = audit_repo.first_seq_of_action(session, KEYED_START)
        if marker is not None:
            return marker
        key = self.key(create=True)
        assert key is not None
        head = audit_repo.chain_head(session)
        entry = self._make_entry(head, key, actor=SYSTEM_ACTOR, action=KEYED_START, subject_id=None, outcome="ok",
                                 details={"algorithm": KEYED_ALGORITHM, "key_id": audit_key_id(key),
                                          "legacy_rows": head[0] if head else 0})
        audit_repo.add_entry(session, entry)
        log.info("audit chain keyed from seq %d (audit key %s)", entry.seq, audit_key_id(key))
        return entry.seq

    def _chain_key(self, session: Session) -> bytes | None:
        """The key the next row is hashed with (None: legacy chain and no key to be had)."""
        if self._keyed_from is not None:
            key = self.key()
            if key is None:
                raise self._missing_key(self._keyed_from)
            return key
        marker = audit_repo.first_seq_of_action(session, KEYED_START)
        if marker is None and self.key(create=self.home is not None) is not None:
            self._keyed_start(session)  # rows before this one stay legacy; from here on, keyed
            return self.key()
        if marker is not None and self.key() is None:
            raise self._missing_key(marker)
        return self.key() if marker is not None else None

    # -- writing ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _make_entry(head: tuple[int, str] | None, key: bytes | None, *, actor: str, action: str,
                    subject_id: str | None, outcome: str, details: Mapping[str, Any]) -> AuditEntry:
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        details_text = canonical_json(dict(details))
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        return AuditEntry(seq=seq, ts=ts, actor=actor, action=action, subject_id=subject_id, outcome=outcome,
                          details=details_text, prev_hash=prev_hash,
                          hash=row_hash(seq, ts, actor, action, subject_id, outcome, details_text, prev_hash, key))

    def append(self, session: Session, *, actor: str, action: str, subject_id: str | None = None,
               outcome: str = "ok", details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Add a row inside ``session``'s transaction (it commits, or not, with the audited change)."""
        if not actor:
            raise SightlineError("every audited action needs an actor", code="audit_actor")
        details_obj = dict(details or {})
        _check_details(details_obj)
        audit_repo.lock_chain(session)
        key = self._chain_key(session)
        entry = self._make_entry(audit_repo.chain_head(session), key, actor=actor, action=action,
                                 subject_id=subject_id, outcome=outcome, details=details_obj)
        return audit_repo.add_entry(session, entry)

    def append_many(self, session: Session, items: Iterable[Mapping[str, Any]], *, batch: int = 5000) -> int:
        """Append many rows (each a mapping of :meth:`append`'s keyword arguments) in ``session``'s transaction.

        The same chain, checks and keying as :meth:`append`, inserted in batches (bulk imports, benchmarks).
        """
        audit_repo.lock_chain(session)
        key = self._chain_key(session)
        head = audit_repo.chain_head(session)
        pending: list[AuditEntry] = []
        count = 0
        for item in items:
            fields = dict(item)
            if not fields.get("actor"):
                raise SightlineError("every audited action needs an actor", code="audit_actor")
            details = dict(fields.pop("details", None) or {})
            _check_details(details)
            entry = self._make_entry(head, key, actor=fields.pop("actor"), action=fields.pop("action"),
                                     subject_id=fields.pop("subject_id", None), outcome=fields.pop("outcome", "ok"),
                                     details=details)
            if fields:
                raise SightlineError(f"unknown audit fields: {', '.join(sorted(fields))}", code="bad_request")
            head = (entry.seq, entry.hash)
            pending.append(entry)
            if len(pending) >= batch:
                count += audit_repo.add_entries(session, pending)
                pending = []
        return count + audit_repo.add_entries(session, pending)

    def record(self, **fields: Any) -> AuditEntry:
        """Append a row in its own transaction (for events with no other database change)."""
        with self.sessions.begin() as session:
            return self.append(session, **fields)

    # -- checking --------------------------------------------------------------------------------------------------
    def _checked_checkpoints(self) -> tuple[list[Checkpoint], tuple[int | None, str] | None]:
        """Checkpoints whose signature holds, or the reason the checkpoint file cannot be trusted."""
        if self.checkpoints is None:
            return [], None
        found = self.checkpoints.read()
        if found.bad_lines:
            return [], (None, f"checkpoint file {self.checkpoints.path} line {found.bad_lines[0]} is not a checkpoint "
                              "(the file was edited)")
        key = self.key()
        if found.checkpoints and key is None:
            return [], (None, "checkpoints exist but no audit key is available to check their signatures")
        for checkpoint in found.checkpoints:
            if key is None or checkpoint.key_id != audit_key_id(key) or not signature_ok(key, checkpoint):
                return [], (None, f"the checkpoint of {checkpoint.time} (seq {checkpoint.seq}) has an invalid "
                                  "signature: the checkpoint file was edited, or it belongs to another audit key")
        return found.checkpoints, None

    def verify(self, *, expect_head: tuple[int, str] | None = None, chunk: int = VERIFY_CHUNK,
               progress: Callable[[int], None] | None = None) -> ChainReport:
        """Walk the chain from seq 1 and check it against every checkpoint; name the first row that does not fit.

        Reads one snapshot in a read-only transaction, ``chunk`` rows at a time (``progress(rows)``
        is called after each chunk); it never takes the write lock, so writers carry on meanwhile.
        """
        checkpoints, bad_file = self._checked_checkpoints()
        if bad_file is not None:
            return ChainReport(False, 0, 0, GENESIS_HASH, bad_file[0], bad_file[1])
        by_seq = {c.seq: c for c in checkpoints}
        newest = max(checkpoints, key=lambda c: c.seq) if checkpoints else None
        key = self.key()
        walker = ChainWalker(key, audit_key_id(key) if key is not None else None)

        def failed(seq: int | None, reason: str) -> ChainReport:
            return ChainReport(False, walker.rows, walker.head_seq, walker.prev_hash, seq, reason,
                               keyed_from=walker.keyed_from, verified_through=walker.head_seq,
                               checkpoint=newest.to_dict() if newest else None, checkpoints_checked=len(checkpoints))

        with self.sessions() as session:
            audit_repo.begin_snapshot(session)
            for row in audit_repo.stream_chain(session, chunk=chunk):
                bad = walker.step(row)
                if bad is not None:
                    return failed(*bad)
                recorded = by_seq.get(row.seq)
                if recorded is not None and recorded.head != row.hash:
                    return failed(row.seq, f"seq {row.seq} no longer carries the head recorded by the checkpoint of "
                                           f"{recorded.time}: rows up to seq {row.seq} were rewritten")
                if progress is not None and walker.rows % chunk == 0:
                    progress(walker.rows)
        if key is not None and walker.rows and walker.keyed_from is None and checkpoints:
            return failed(1, "the chain has no keyed-start row although signed checkpoints exist: it was rewritten "
                             "with plain hashes")
        if newest is not None and walker.head_seq < newest.seq:
            return failed(walker.head_seq + 1,
                          f"the chain ends at seq {walker.head_seq} but the checkpoint of {newest.time} recorded seq "
                          f"{newest.seq}: rows {walker.head_seq + 1}..{newest.seq} were removed from the end")
        if expect_head is not None:
            want_seq, want_hash = expect_head
            if walker.head_seq < want_seq:
                return failed(walker.head_seq + 1, f"chain ends at seq {walker.head_seq} but the recorded head is seq "
                                                   f"{want_seq}: rows were removed from the end")
            if not self._hash_at(want_seq, want_hash):
                return failed(want_seq, f"seq {want_seq} does not carry the recorded head hash")
        return ChainReport(True, walker.rows, walker.head_seq, walker.prev_hash, keyed_from=walker.keyed_from,
                           checkpoint=newest.to_dict() if newest else None, checkpoints_checked=len(checkpoints))

    def _hash_at(self, seq: int, want_hash: str) -> bool:
        with self.sessions() as session:
            entry = audit_repo.entry_at(session, seq)
            return entry is not None and entry.hash == want_hash

    # -- reading ---------------------------------------------------------------------------------------------------
    def tail(self, n: int = 20, *, subject_id: str | None = None) -> list[AuditEntry]:
        """The last ``n`` rows (optionally only those about one subject), oldest first."""
        with self.sessions() as session:
            return audit_repo.tail_entries(session, n, subject_id=subject_id)

    def for_subject(self, subject_id: str) -> list[AuditEntry]:
        """Every row about one subject, oldest first (for subject-access exports)."""
        with self.sessions() as session:
            return audit_repo.entries_for_subject(session, subject_id)


def write_checkpoint(audit: AuditLog, *, hooks: bool = True) -> Checkpoint | None:
    """Sign the chain's current head and append it to the checkpoint file (and hand it to every hook).

    The server's jobs run this on a schedule; ``sightline audit checkpoint`` runs it by hand.
    Returns the new checkpoint, the newest one if the head has not moved, or None for an empty
    chain. Needs the audit key and a data home.
    """
    if audit.checkpoints is None:
        raise SightlineError("audit checkpoints need a data home (the file lives outside the database)",
                             code="no_checkpoint_file")
    key = audit.key()
    if key is None:
        raise KeyMaterialError("no audit key: cannot sign a checkpoint (open the audit log with its data home "
                               "or set $SIGHTLINE_AUDIT_KEY)")
    with audit.sessions() as session:
        head = audit_repo.chain_head(session)
    if head is None:
        return None
    newest = audit.checkpoints.newest()
    if newest is not None and (newest.seq, newest.head) == head:
        return newest
    checkpoint = sign_checkpoint(key, audit_key_id(key), head[0], head[1])
    audit.checkpoints.append(checkpoint)
    if hooks:
        publish(checkpoint)
    return checkpoint


def search(sessions: sessionmaker[Session], *, action: str | None = None, actor_contains: str | None = None,
           subject_id: str | None = None, since: str | None = None, until: str | None = None,
           until_inclusive: bool = True, limit: int = 100,
           offset: int = 0) -> tuple[int, list[AuditEntry], list[str]]:
    """(total matching, one page of rows newest first, every action in the log) for the audit listing.

    ``since``/``until`` are timestamps in the stored format (UTC ``isoformat``, compared as text).
    """
    query = audit_repo.AuditQuery(action, actor_contains, subject_id, since, until, until_inclusive)
    with sessions() as session:
        total, rows = audit_repo.search_entries(session, query, limit=limit, offset=offset)
        return total, list(rows), audit_repo.distinct_actions(session)
