"""Find model files on disk, verify their sha256, and download them for users with internet."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sightline.config import default_data_dir, default_models_dir
from sightline.errors import ModelError
from sightline.models.registry import REGISTRY, ModelSpec, get_spec

_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def sha256_file(path: Path) -> str:
    """sha256 of a file, cached per (path, size, mtime) so each file is hashed once per process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASH_LOCK:
        if key in _HASH_CACHE:
            return _HASH_CACHE[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _HASH_LOCK:
        _HASH_CACHE[key] = value
    return value


@dataclass(frozen=True)
class ModelStatus:
    """Where a model was found and whether its hash matched."""

    name: str
    path: Path | None
    ok: bool
    problem: str = ""

    def to_dict(self) -> dict[str, object]:
        path = str(self.path) if self.path else None
        return {"name": self.name, "path": path, "ok": self.ok, "problem": self.problem}


class ModelStore:
    """Resolves model names to verified files.

    Search order: ``models_dir`` (argument, else ``SIGHTLINE_MODELS``), then the
    user cache ``$SIGHTLINE_HOME/models`` (where ``pull`` writes), then the
    Python package that ships the file (e.g. ``face_recognition_models``).
    """

    def __init__(self, models_dir: str | Path | None = None) -> None:
        explicit = Path(models_dir).expanduser() if models_dir else default_models_dir()
        self.models_dir = explicit
        self.cache_dir = default_data_dir() / "models"

    def search_dirs(self) -> list[Path]:
        """Directories searched, in order."""
        dirs = [d for d in (self.models_dir, self.cache_dir) if d is not None]
        return dirs

    def candidates(self, spec: ModelSpec) -> list[Path]:
        """All places where ``spec`` could live, in search order."""
        paths = [d / spec.filename for d in self.search_dirs()]
        # A flat directory holding just the file by its base name is accepted too.
        paths += [d / Path(spec.filename).name for d in self.search_dirs()]
        if spec.package and spec.package_path:
            found = importlib.util.find_spec(spec.package)
            if found is not None and found.submodule_search_locations:
                for location in found.submodule_search_locations:
                    paths.append(Path(location) / spec.package_path)
        return paths

    def locate(self, name: str) -> Path | None:
        """First existing candidate path for ``name`` (not verified)."""
        spec = get_spec(name)
        for path in self.candidates(spec):
            if path.is_file():
                return path
        return None

    def available(self, name: str) -> bool:
        """True when the file exists somewhere in the search path (hash not checked)."""
        return self.locate(name) is not None

    def path(self, name: str) -> Path:
        """Verified path of model ``name``; raises :class:`ModelError` naming the file and the fix."""
        spec = get_spec(name)
        path = self.locate(name)
        if path is None:
            where = ", ".join(str(d) for d in self.search_dirs()) or "(SIGHTLINE_MODELS is not set)"
            raise ModelError(
                f"model {name!r} ({spec.filename}) not found in {where}; {self._how_to_get(spec)}",
                code="model_missing",
            )
        actual = sha256_file(path)
        if actual != spec.sha256:
            raise ModelError(
                f"model {name!r} at {path} is corrupt or a different version: sha256 {actual} "
                f"!= expected {spec.sha256}; {self._how_to_get(spec)}",
                code="model_corrupt",
            )
        return path

    def status(self, name: str) -> ModelStatus:
        """Verify one model without raising."""
        try:
            return ModelStatus(name, self.path(name), True)
        except ModelError as exc:
            return ModelStatus(name, self.locate(name), False, str(exc))

    def status_all(self) -> list[ModelStatus]:
        """Verify every registered model."""
        return [self.status(name) for name in REGISTRY]

    def pull(self, name: str, *, url: str | None = None, timeout: float = 60.0) -> Path:
        """Download ``name`` from its upstream URL into the user cache and verify it."""
        spec = get_spec(name)
        source = url or spec.url
        if not source:
            raise ModelError(f"model {name!r} has no direct download: {spec.how_to_get}", code="no_download")
        target = (self.models_dir or self.cache_dir) / spec.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".pull-", dir=target.parent)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as response:  # noqa: S310
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != spec.sha256:
                raise ModelError(
                    f"download of {name!r} from {source} has sha256 {digest.hexdigest()}, expected {spec.sha256}; "
                    "file discarded",
                    code="model_corrupt",
                )
            shutil.move(tmp_name, target)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"could not download {name!r} from {source}: {exc}", code="download_failed") from None
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        return target

    @staticmethod
    def _how_to_get(spec: ModelSpec) -> str:
        parts = []
        if spec.how_to_get:
            parts.append(f"get it with: {spec.how_to_get}")
        if spec.url:
            parts.append(f"or run `sightline models pull {spec.name}` (downloads {spec.url})")
        parts.append("and point SIGHTLINE_MODELS at the folder that holds it")
        return "; ".join(parts)
