"""A cohort of faces of people who are not enrolled (LFW view-1 identities), for score normalisation.

Each probe is compared with every cohort face; its raw similarity to a gallery subject is then
expressed in standard deviations above the probe's own cohort scores (test normalisation, "T-norm"):
``z = (s - mean(cohort scores)) / std(cohort scores)``. A probe that resembles everybody (a grey,
blurred or low-resolution face) gets a high cohort mean and so needs a higher raw score to match.

The cohort is built from a public data set by ``sightline calibration build-cohort --lfw DIR``
(never from site faces), saved in the models cache with its sha256 recorded beside it, and never
committed to the repository.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sightline.errors import SightlineError

MIN_COHORT = 50


class CohortError(SightlineError):
    """A cohort file that is missing, corrupt or made by another embedder."""

    code = "bad_cohort"
    exit_code = 2


@dataclass
class Cohort:
    """L2-normalised embeddings of non-enrolled people (one row per face)."""

    vectors: np.ndarray
    embedder: str
    source: str
    sha256: str = ""

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] < MIN_COHORT:
            raise CohortError(f"a cohort needs at least {MIN_COHORT} faces, got {self.vectors.shape[0]}")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def stats(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of each probe's similarities to the cohort."""
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        if probes.shape[1] != self.dim:
            raise CohortError(f"probe has {probes.shape[1]} dimensions, the cohort {self.dim} "
                              "(built with another embedder?)", code="embedding_mismatch")
        scores = probes @ self.vectors.T
        return scores.mean(axis=1), np.maximum(scores.std(axis=1), 1e-6)

    def normalise(self, probe: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Cohort z-scores of ``probe``'s raw similarities ``scores``."""
        mean, std = self.stats(np.asarray(probe).reshape(1, -1))
        return (np.asarray(scores, dtype=np.float64) - float(mean[0])) / float(std[0])


def cohort_path(cache_dir: Path, embedder: str) -> Path:
    """Where the cohort of ``embedder`` lives in the models cache."""
    return cache_dir / "cohorts" / f"{embedder}-lfw-view1.npz"


def save_cohort(cohort: Cohort, path: Path) -> str:
    """Write the cohort and a sidecar ``.json`` recording its sha256; returns the sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, vectors=cohort.vectors, embedder=np.array(cohort.embedder), source=np.array(cohort.source))
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(path)
    meta = {"sha256": digest, "embedder": cohort.embedder, "faces": int(cohort.vectors.shape[0]),
            "source": cohort.source, "created": datetime.now(UTC).isoformat(timespec="seconds")}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    cohort.sha256 = digest
    return digest


def load_cohort(path: Path, embedder: str) -> Cohort:
    """Load a cohort, checking its recorded sha256 and embedder."""
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise CohortError(f"no cohort at {path}: run `sightline calibration build-cohort --lfw DIR`",
                          code="cohort_missing")
    meta = json.loads(meta_path.read_text())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != meta.get("sha256"):
        raise CohortError(f"cohort {path} does not match its recorded sha256 (corrupt or replaced): rebuild it")
    with np.load(path) as data:
        found = str(data["embedder"])
        if found != embedder:
            raise CohortError(f"cohort {path} was built with {found}, not {embedder}", code="embedding_mismatch")
        return Cohort(data["vectors"], found, str(data["source"]), digest)
