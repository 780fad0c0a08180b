"""One lookup mechanism for everything Sightline picks by name: model files, components, backends.

:class:`Registry` is a read-only mapping with one rule for unknown names (a clear error that
lists the choices). :class:`BackendRegistry` adds the one rule for ``auto``: the first entry of a
preference order whose model files are all present. Model files, face backends and object
detectors are all instances of these two classes (see :mod:`sightline.models.zoo`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from sightline.errors import ConfigError, ModelError, SightlineError
from sightline.models.catalogue import load_catalogue
from sightline.models.spec import ModelSpec


class Named(Protocol):
    name: str


class Composed(Named, Protocol):
    @property
    def models(self) -> tuple[str, ...]: ...


class Locator(Protocol):
    """What ``auto`` needs of a model store (:class:`~sightline.models.store.ModelStore` is one)."""

    def available(self, name: str) -> bool: ...

    def search_dirs(self) -> list[Path]: ...


T = TypeVar("T", bound=Named)
B = TypeVar("B", bound=Composed)


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one kind by name; :meth:`lookup` raises ``error`` naming the choices for unknown names."""

    def __init__(self, kind: str, entries: Iterable[T], *, error: type[SightlineError] = ConfigError,
                 code: str | None = None, choices_prefix: str = "") -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"duplicate {kind} {entry.name!r}")
            self._entries[entry.name] = entry
        self._error = error
        self._code = code or error.code
        self._choices_prefix = choices_prefix

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, name: str) -> T:
        """The entry called ``name``, or ``error`` listing every known name."""
        try:
            return self._entries[name]
        except KeyError:
            choices = self._choices_prefix + ", ".join(self._entries)
            raise self._error(f"unknown {self.kind} {name!r}; choose one of: {choices}", code=self._code) from None


class BackendRegistry(Registry[B]):
    """A registry of compositions of model files, where ``auto`` means the first usable in ``preference``."""

    def __init__(self, kind: str, entries: Iterable[B], *, preference: tuple[str, ...], none_found: str,
                 hint: str, code: str | None = None) -> None:
        super().__init__(kind, entries, error=ConfigError, code=code, choices_prefix="auto, ")
        unknown = [name for name in preference if name not in self]
        if unknown:
            raise ValueError(f"preference names unknown {kind}(s): {unknown}")
        self.preference = preference
        self._none_found = none_found
        self._hint = hint

    def resolve(self, name: str, store: Locator) -> B:
        """The entry ``name``; for ``auto`` the first of :attr:`preference` whose model files all exist."""
        if name != "auto":
            return self.lookup(name)
        for candidate in self.preference:
            entry = self[candidate]
            if all(store.available(model) for model in entry.models):
                return entry
        files = sorted({REGISTRY[m].filename for c in self.preference for m in self[c].models})
        where = ", ".join(str(d) for d in store.search_dirs()) or "(SIGHTLINE_MODELS is not set)"
        raise ModelError(f"{self._none_found} (looked for {', '.join(files)} in {where}); {self._hint}",
                         code="model_missing")


REGISTRY: Registry[ModelSpec] = Registry("model", load_catalogue(), error=ModelError, code="unknown_model")


def get_spec(name: str) -> ModelSpec:
    """Return the registry entry called ``name`` or raise :class:`ModelError`."""
    return REGISTRY.lookup(name)
