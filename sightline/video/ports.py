"""What ``video/`` needs of the gallery, as a typed seam (:class:`VideoGallery`); the gallery satisfies it.

Video code never imports the gallery package: it is handed an object with a face engine, a database session
factory (events are stored there), a data home (default snapshot folder) and 1:N matching of one embedding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from sightline.engine import FaceEngine


class MatchResult(Protocol):
    """An enrolled subject an embedding matched above the threshold."""

    @property
    def subject_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def score(self) -> float: ...


class VideoGallery(Protocol):
    """The gallery as the camera pipeline and the camera service use it."""

    @property
    def faces(self) -> FaceEngine:
        """The face engine that detects and embeds faces in frames."""
        ...

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the database that stores events."""
        ...

    @property
    def home(self) -> Path:
        """The data home (snapshots go to ``home/snapshots`` unless configured)."""
        ...

    def match_embedding(self, vector: np.ndarray, *, camera: str | None = None,
                        actor: str | None = None) -> MatchResult | None:
        """The enrolled subject above threshold for ``vector`` (audited with the camera), or None."""
        ...
