"""The in-memory search side of the gallery: FAISS index of templates, names, subject thresholds, negatives.

Built from the encrypted store on first use and kept in step by enrolment,
removal and erasure (and, for changes made by another process or replica, by
the change feed of :mod:`sightline.gallery.change_feed`, with
:meth:`SearchIndex.refresh` as the full reconciliation). Nothing here writes to the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sightline.gallery.context import GalleryContext
from sightline.gallery.index import VectorIndex
from sightline.store import subjects_repo, templates_repo

TEMPLATES_PER_SUBJECT_SEARCHED = 8  # templates fetched per requested candidate, so k subjects survive merging


@dataclass
class _IndexState:
    index: VectorIndex | None
    subject_of: dict[int, str] = field(default_factory=dict)
    stale: int = 0  # templates made by another embedder (not searchable with this engine)


class SearchIndex:
    """Templates in a :class:`VectorIndex` plus what the match decision needs per subject."""

    def __init__(self, ctx: GalleryContext, index_kind: str = "exact",
                 index_params: dict[str, Any] | None = None,
                 index_factory: Callable[[int], Any] | None = None) -> None:
        """``index_factory(dim)``: makes the vector index instead of a local :class:`VectorIndex` (``serve --index
        sharded`` passes one whose index lives in shard actors on a cluster); it must offer VectorIndex's
        ``add``, ``remove``, ``search`` and ``len``."""
        self.ctx = ctx
        self.index_factory = index_factory
        self.index_kind = index_kind
        self.index_params = dict(index_params or {})
        self._state: _IndexState | None = None
        self._names: dict[str, str] = {}
        self._thresholds: dict[str, float] = {}
        self._negatives: dict[str, np.ndarray] = {}

    @property
    def index(self) -> VectorIndex | None:
        """The FAISS index (built on first use; None while nothing is enrolled)."""
        return self.state().index

    def state(self) -> _IndexState:
        with self.ctx.lock:
            if self._state is None:
                self._state = self._build()
            return self._state

    def _build(self) -> _IndexState:
        embedder = self.ctx.faces.spec.embedder
        state = _IndexState(index=None)
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        with self.ctx.sessions() as session:
            state.stale = templates_repo.count_templates(session, other_than_embedder=embedder)
            for template in templates_repo.iter_template_rows(session, embedder):  # plain rows: loads fast
                ids.append(template.id)
                vectors.append(self.ctx.decrypt_template(template))
                state.subject_of[template.id] = template.subject_id
            self._load_subject_data(session, embedder)
        if vectors:
            state.index = self._new_index(int(vectors[0].size))
            matrix = np.vstack(vectors)
            state.index.add(np.asarray(ids, dtype=np.int64), matrix)
            matrix.fill(0.0)
        return state

    def _new_index(self, dim: int) -> Any:
        if self.index_factory is not None:
            return self.index_factory(dim)
        return VectorIndex(dim, self.index_kind, **self.index_params)

    def _load_subject_data(self, session: Any, embedder: str) -> None:
        self._names = subjects_repo.names_by_id(session)
        self._thresholds = subjects_repo.thresholds_by_id(session)
        negatives: dict[str, list[np.ndarray]] = {}
        for negative in templates_repo.all_negatives(session, embedder):
            negatives.setdefault(negative.subject_id, []).append(self.ctx.decrypt_negative(negative))
        self._negatives = {sid: np.vstack(rows) for sid, rows in negatives.items()}

    def refresh(self) -> tuple[int, int]:
        """Bring the index in line with the store (after another process changed it): (added, removed)."""
        with self.ctx.lock:
            if self._state is None:
                return len(self.state().subject_of), 0
            embedder = self.ctx.faces.spec.embedder
            with self.ctx.sessions() as session:
                stored = templates_repo.template_ids(session, embedder)
                known = set(self._state.subject_of)
                gone = sorted(known - stored)
                new = sorted(stored - known)
                for template in templates_repo.templates_by_id(session, new):
                    self.add(template.id, template.subject_id, self.ctx.decrypt_template(template))
                self._load_subject_data(session, embedder)
            self.remove(gone)
            return len(new), len(gone)

    def add(self, template_id: int, subject_id: str, vector: np.ndarray) -> None:
        """Make one template searchable."""
        with self.ctx.lock:
            state = self.state()
            if template_id in state.subject_of:  # the index was just built from the store, which has it already
                return
            if state.index is None:
                state.index = self._new_index(int(vector.size))
            state.index.add(np.asarray([template_id], dtype=np.int64), vector.reshape(1, -1))
            state.subject_of[template_id] = subject_id

    def remove(self, template_ids: Sequence[int]) -> int:
        """Take templates out of the index (their stored vectors are zeroed); returns how many were there."""
        with self.ctx.lock:
            state = self._state
            if state is None or not template_ids:
                return 0
            for template_id in template_ids:
                state.subject_of.pop(template_id, None)
            return state.index.remove(np.asarray(template_ids, dtype=np.int64)) if state.index is not None else 0

    def set_subject(self, subject_id: str, name: str, threshold: float | None = None) -> None:
        """Remember a subject's display name and own threshold."""
        with self.ctx.lock:
            self._names[subject_id] = name
            self._set_threshold(subject_id, threshold)

    def set_threshold(self, subject_id: str, threshold: float | None) -> None:
        """Remember (or forget, with None) a subject's own threshold."""
        with self.ctx.lock:
            self._set_threshold(subject_id, threshold)

    def _set_threshold(self, subject_id: str, threshold: float | None) -> None:
        if threshold is None:
            self._thresholds.pop(subject_id, None)
        else:
            self._thresholds[subject_id] = float(threshold)

    def add_negative(self, subject_id: str, vector: np.ndarray) -> None:
        """Remember a face that is *not* this subject."""
        with self.ctx.lock:
            row = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            old = self._negatives.get(subject_id)
            self._negatives[subject_id] = row if old is None else np.vstack([old, row])

    def set_negatives(self, subject_id: str, vectors: Sequence[np.ndarray]) -> None:
        """Replace the subject's negative examples with ``vectors`` (as read back from the store)."""
        with self.ctx.lock:
            old = self._negatives.pop(subject_id, None)
            if old is not None:
                old.fill(0.0)
            if vectors:
                self._negatives[subject_id] = np.vstack([np.asarray(v, dtype=np.float32).reshape(1, -1)
                                                         for v in vectors])

    @property
    def built(self) -> bool:
        """Whether the index has been built from the store yet (it is built on first use)."""
        return self._state is not None

    def forget_subject(self, subject_id: str, template_ids: Sequence[int]) -> int:
        """Drop everything held in memory about an erased subject; returns index entries removed."""
        with self.ctx.lock:
            removed = self.remove(template_ids)
            self._names.pop(subject_id, None)
            self._thresholds.pop(subject_id, None)
            negatives = self._negatives.pop(subject_id, None)
            if negatives is not None:
                negatives.fill(0.0)
            return removed

    def name(self, subject_id: str) -> str:
        return self._names.get(subject_id, "")

    def subject_threshold(self, subject_id: str) -> float | None:
        """The subject's own threshold, if they carry one."""
        return self._thresholds.get(subject_id)

    def negative_score(self, subject_id: str, vector: np.ndarray) -> float | None:
        """Best similarity of ``vector`` to the subject's negative examples (None when they have none)."""
        negatives = self._negatives.get(subject_id)
        if negatives is None or negatives.shape[1] != np.asarray(vector).size:
            return None
        return float(np.max(negatives @ np.asarray(vector, dtype=np.float32)))

    def nearest(self, vector: np.ndarray | None, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (subject id, best template similarity) pairs, best first."""
        state = self.state()
        if vector is None or state.index is None or len(state.index) == 0:
            return []
        fetch = min(len(state.index), k * TEMPLATES_PER_SUBJECT_SEARCHED)
        scores, ids = state.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), fetch)
        best: dict[str, float] = {}
        for score, template_id in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
            subject_id = state.subject_of.get(template_id) if template_id >= 0 else None
            if subject_id is not None and score > best.get(subject_id, -np.inf):
                best[subject_id] = score
        return sorted(best.items(), key=lambda item: -item[1])[:k]
