"""Face recognition per track: follow faces over frames, identify a few times, vote, name or stay unknown.

Faces are tracked on their own (a person box often holds no visible face, and
in crowds the person detector merges people whose faces are all visible). Each
face track keeps its best-quality face; every ``identify_every_n_frames`` it is
identified against the gallery until the track is named. A track is named only
when ``min_votes`` identifications agree on the same enrolled subject above the
threshold (or once, if the track ends after a single, matching attempt).
Unknown face tracks are never given an identity and never outlive their camera.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sightline.video.ports import VideoGallery
from sightline.video.tracker import ByteTracker, Track, TrackerConfig
from sightline.vision.faces.types import Face


@dataclass(frozen=True)
class SubjectMatch:
    """An enrolled subject that a face matched, with its similarity."""

    subject_id: str
    name: str
    score: float


Embed = Callable[[list[tuple[np.ndarray, Face]]], np.ndarray]


class Recognizer(Protocol):
    """Anything that names an embedding: the gallery in production."""

    def match(self, embedding: np.ndarray, *, camera: str) -> SubjectMatch | None:
        """The enrolled subject above threshold for ``embedding``, or None for unknown."""
        ...


@dataclass
class FaceTrackState:
    """What is known about one face track so far."""

    track_id: int
    box: tuple[float, float, float, float]
    best_face: Face | None = None
    best_image: np.ndarray | None = None  # the frame best_face was found in (a reference, not a copy)
    best_quality: float = -1.0
    frames_since_attempt: int = 10**9
    attempts: int = 0
    votes: Counter = field(default_factory=Counter)
    best_scores: dict[str, float] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    named: SubjectMatch | None = None
    announced: bool = False
    fresh_face: bool = False
    misses: int = 0  # consecutive re-checks of a named track that did not confirm the name

    def winning(self) -> tuple[str, int] | None:
        """The subject with the most matching votes and its vote count."""
        return self.votes.most_common(1)[0] if self.votes else None


@dataclass
class FaceUpdate:
    """Outcome of one frame for the face tracks."""

    tracks: list[FaceTrackState]
    newly_named: list[FaceTrackState]
    ended: list[FaceTrackState]
    identifications: int


class FaceTrackRecognizer:
    """Tracks faces on one camera and names the tracks of enrolled people by voting."""

    def __init__(self, recognizer: Recognizer | None, *, camera: str, identify_every_n_frames: int = 3,
                 min_votes: int = 2, max_attempts: int = 8, min_quality: float = 0.05,
                 recheck_every_n_frames: int | None = None, tracker: TrackerConfig | None = None) -> None:
        self.recognizer = recognizer
        self.camera = camera
        self.every = max(1, int(identify_every_n_frames))
        self.min_votes = max(1, int(min_votes))
        self.max_attempts = max(1, int(max_attempts))
        self.min_quality = min_quality
        self.recheck_every = recheck_every_n_frames or self.every * 4
        self._tracker = ByteTracker(tracker or TrackerConfig(min_hits=1, lost_buffer=10, new_track_score=0.5))
        self._states: dict[int, FaceTrackState] = {}

    def update(self, image: np.ndarray, faces: list[Face], embed: Embed) -> FaceUpdate:
        """Feed one frame and its faces (with quality); ``embed`` embeds the chosen faces on demand."""
        boxes = np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4)
        scores = np.array([f.score for f in faces], dtype=np.float64)
        tracks = self._tracker.update(boxes, scores, np.zeros(len(faces), dtype=np.int64))
        for track in tracks:
            state = self._states.setdefault(track.track_id, FaceTrackState(track.track_id, track.box))
            state.box = track.box
            state.frames_since_attempt += 1
            if track.det_index is not None:
                self._offer(state, image, faces[track.det_index])
        newly_named, identifications = self._identify_due(embed)
        ended = self._end_missing()
        active = [self._states[t.track_id] for t in tracks if t.track_id in self._states]
        return FaceUpdate(active, newly_named, ended, identifications)

    def finish(self) -> list[FaceTrackState]:
        """End every track (end of a file or stream); short single-attempt matches are named now."""
        ended = [self._close(state) for state in self._states.values()]
        self._states.clear()
        self._tracker.reset()
        return ended

    def _offer(self, state: FaceTrackState, image: np.ndarray, face: Face) -> None:
        quality = face.quality.score if face.quality else 0.0
        if quality >= self.min_quality and (quality > state.best_quality or not state.fresh_face):
            state.best_face, state.best_image, state.best_quality, state.fresh_face = face, image, quality, True

    def _identify_due(self, embed: Embed) -> tuple[list[FaceTrackState], int]:
        recognizer = self.recognizer
        due = [s for s in self._states.values() if self._is_due(s)]
        pairs = [(s.best_image, s.best_face) for s in due if s.best_image is not None and s.best_face is not None]
        if recognizer is None or not due or len(pairs) != len(due):  # a due track always has its face and frame
            return [], 0
        vectors = embed(pairs)
        named = []
        for state, vector in zip(due, vectors, strict=True):
            state.attempts += 1
            state.frames_since_attempt = 0
            state.fresh_face = False
            state.best_quality = -1.0
            state.best_image = None
            match = recognizer.match(vector, camera=self.camera)
            if state.named is not None:
                self._recheck(state, match)
                continue
            if match is None:
                continue
            state.votes[match.subject_id] += 1
            state.names[match.subject_id] = match.name
            state.best_scores[match.subject_id] = max(match.score, state.best_scores.get(match.subject_id, 0.0))
            winner = state.winning()
            if winner and winner[1] >= self.min_votes:
                state.named = self._match_of(state, winner[0])
                named.append(state)
        return named, len(due)

    def _is_due(self, state: FaceTrackState) -> bool:
        if self.recognizer is None or not state.fresh_face or state.best_face is None:
            return False
        if state.named is not None:  # keep confirming the name: a track may jump to someone else
            return state.frames_since_attempt >= self.recheck_every
        return state.attempts < self.max_attempts and state.frames_since_attempt >= self.every

    @staticmethod
    def _recheck(state: FaceTrackState, match: SubjectMatch | None) -> None:
        """Keep the name on agreement; drop it at once for another subject, or after two misses in a row."""
        assert state.named is not None
        if match is not None and match.subject_id == state.named.subject_id:
            state.misses = 0
            return
        state.misses += 1
        if match is not None or state.misses >= 2:
            state.named, state.announced, state.misses = None, False, 0
            state.votes.clear()
            state.attempts = 0

    def _end_missing(self) -> list[FaceTrackState]:
        """Close the states of tracks the tracker has dropped (gone longer than its lost buffer)."""
        alive = {t.track_id for t in self._tracker.tracks}
        gone = [tid for tid in self._states if tid not in alive]
        return [self._close(self._states.pop(tid)) for tid in gone]

    def _close(self, state: FaceTrackState) -> FaceTrackState:
        if state.named is None and state.attempts == 1:
            winner = state.winning()
            if winner:  # a brief appearance with one matching attempt still counts
                state.named = self._match_of(state, winner[0])
        return state

    @staticmethod
    def _match_of(state: FaceTrackState, subject_id: str) -> SubjectMatch:
        return SubjectMatch(subject_id, state.names[subject_id], state.best_scores[subject_id])


def assign_to_person(face_box: tuple[float, float, float, float], person_tracks: list[Track]) -> int | None:
    """The person track whose box contains most of ``face_box`` (at least half of it), or None."""
    fx1, fy1, fx2, fy2 = face_box
    area = max((fx2 - fx1) * (fy2 - fy1), 1e-6)
    best, best_share = None, 0.5
    for track in person_tracks:
        x1, y1, x2, y2 = track.box
        overlap = max(0.0, min(fx2, x2) - max(fx1, x1)) * max(0.0, min(fy2, y2) - max(fy1, y1))
        if overlap / area >= best_share:
            best, best_share = track.track_id, overlap / area
    return best


class GalleryRecognizer:
    """Adapts :class:`sightline.gallery.gallery.Gallery` to the :class:`Recognizer` protocol."""

    def __init__(self, gallery: VideoGallery, *, actor: str = "pipeline") -> None:
        self.gallery = gallery
        self.actor = actor

    def match(self, embedding: np.ndarray, *, camera: str) -> SubjectMatch | None:
        best = self.gallery.match_embedding(embedding, camera=camera, actor=self.actor)
        return SubjectMatch(best.subject_id, best.name, best.score) if best else None
