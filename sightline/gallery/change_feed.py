"""Keep this process's in-memory index in step with changes other processes or replicas made to the store.

Every change to what the index holds appends a row to the change feed (``store/changes_repo.py``) in the
same transaction. :class:`ChangeFeed` applies the rows after the last one it saw: an enrolment is decrypted
from the store and added; a removal or erasure drops the vectors (and, on erasure, the name, threshold and
negatives held in memory). Applying is idempotent, so the replica that made a change applies it again
harmlessly. :class:`ChangeFollower` runs it on a thread: woken by PostgreSQL ``NOTIFY`` (with a slow poll as
a safety net), or polling the feed on SQLite (several processes on one file).

A replica that could not read the feed for longer than the feed is kept (its rows may have been pruned)
falls back to :meth:`SearchIndex.refresh`, the full reconciliation with the store.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sightline.errors import KeyMaterialError
from sightline.gallery.context import GalleryContext
from sightline.gallery.search import SearchIndex
from sightline.store import changes_repo, subjects_repo, templates_repo
from sightline.store.changes_repo import Change

log = logging.getLogger(__name__)

KEEP_MINUTES = float(os.environ.get("SIGHTLINE_CHANGE_FEED_KEEP_MIN", "10"))  # feed rows older are pruned
POLL_S = float(os.environ.get("SIGHTLINE_CHANGE_POLL_S", "0.25"))  # SQLite poll; PostgreSQL's safety-net poll x4


class ChangeFeed:
    """Applies the feed's rows after :attr:`last_seq` to one :class:`SearchIndex`."""

    def __init__(self, ctx: GalleryContext, search: SearchIndex) -> None:
        self.ctx = ctx
        self.search = search
        self.last_seq: int | None = None
        self.last_read = time.monotonic()
        self.applied = 0

    def catch_up(self) -> dict[str, int]:
        """Apply every change not applied yet; returns counts (a full refresh when the feed was out of reach)."""
        with self.ctx.lock:  # the index cannot be built from an older snapshot while the feed moves on
            if self.last_seq is None or time.monotonic() - self.last_read > KEEP_MINUTES * 60 * 0.9:
                return self._resync()
            applied = 0
            while True:
                with self.ctx.sessions() as session:
                    changes = changes_repo.changes_after(session, self.last_seq)
                    if self.search.built:
                        for change in changes:
                            self._apply(session, change)
                self.last_read = time.monotonic()
                if not changes:
                    break
                self.last_seq = changes[-1].seq
                applied += len(changes)
            self.applied += applied
            return {"applied": applied, "seq": self.last_seq}

    def _resync(self) -> dict[str, int]:
        """Start from the feed's head, with the index reconciled against the store."""
        with self.ctx.sessions() as session:
            head = changes_repo.latest_seq(session)
        added, removed = self.search.refresh() if self.search.built else (0, 0)
        self.last_seq, self.last_read = head, time.monotonic()
        return {"applied": 0, "seq": head, "resynced": 1, "added": added, "removed": removed}

    def _apply(self, session: Any, change: Change) -> None:
        try:
            self._apply_one(session, change)
        except KeyMaterialError as exc:  # e.g. a key rotated by another replica: restart this one to load it
            log.warning("change feed: change %d (%s) not applied: %s", change.seq, change.kind, exc)

    def _apply_one(self, session: Any, change: Change) -> None:
        subject_id = change.subject_id or ""
        if change.kind == "enrol":
            embedder = self.ctx.faces.spec.embedder
            for template in templates_repo.templates_by_id(session, list(change.template_ids)):
                if template.embedder == embedder:  # gone (erased since) or another embedder's: not searchable
                    self.search.add(template.id, template.subject_id, self.ctx.decrypt_template(template))
            self._reload_subject(session, subject_id)
        elif change.kind == "remove":
            self.search.remove(list(change.template_ids))
        elif change.kind == "erase":
            self.search.forget_subject(subject_id, list(change.template_ids))
        elif change.kind == "negative":
            embedder = self.ctx.faces.spec.embedder
            self.search.set_negatives(subject_id, [self.ctx.decrypt_negative(n) for n in
                                                   templates_repo.negatives_of(session, subject_id, embedder)])
        elif change.kind == "subject":
            self._reload_subject(session, subject_id)

    def _reload_subject(self, session: Any, subject_id: str) -> None:
        subject = subjects_repo.get_subject(session, subject_id)
        if subject is not None:
            self.search.set_subject(subject.id, subject.name, subject.threshold)


class ChangeFollower:
    """A scheduler service: a thread that applies the feed as soon as it moves (start/stop with the server)."""

    def __init__(self, feed: ChangeFeed, *, poll_s: float = POLL_S, after: Callable[[], Any] | None = None) -> None:
        self.feed = feed
        self.poll_s = poll_s
        self.after = after  # called after changes were applied (the server updates its gallery-size gauge)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ChangeFollower:
        """Follow on a daemon thread; its first read takes the feed's head and reconciles a built index with the
        store, so nothing committed before is missed (a database that is down is retried, never fatal)."""
        self._thread = threading.Thread(target=self._run, name="sightline-change-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with changes_repo.listener(self.feed.ctx.db) as listener:
                    self._follow(listener)
            except Exception:  # database gone for a while: retry, then catch up (or resync)
                log.exception("change feed: following failed; retrying")
                self._stopping.wait(2.0)

    def _follow(self, listener: changes_repo.Listener | None) -> None:
        self._catch_up()  # what was committed while (re)connecting
        while not self._stopping.is_set():
            if listener is None:
                self._stopping.wait(self.poll_s)
            else:
                listener.wait(self.poll_s * 4)  # woken by NOTIFY; the timeout is the safety-net poll
            if not self._stopping.is_set():
                self._catch_up()

    def _catch_up(self) -> None:
        done = self.feed.catch_up()
        if self.after is not None and (done.get("applied") or done.get("resynced")):
            self.after()


def purge_feed(session: Any, now: datetime) -> int:
    """Retention: delete feed rows older than ``SIGHTLINE_CHANGE_FEED_KEEP_MIN`` minutes (every replica following
    the feed applied them long before; one that was away longer resyncs from the store)."""
    return changes_repo.delete_before(session, now - timedelta(minutes=KEEP_MINUTES))
