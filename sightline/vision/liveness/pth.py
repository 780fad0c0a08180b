"""Read PyTorch ``.pth`` state dicts into numpy arrays without PyTorch and without running arbitrary pickle code.

Two container formats exist:

* **zip** (torch >= 1.6): ``<archive>/data.pkl`` plus one raw little-endian storage per key under
  ``<archive>/data/<key>`` (and optionally ``<archive>/byteorder``);
* **legacy** (older torch, e.g. the official MiniFASNet files): five pickles in a row (magic number,
  protocol version, system info, the state dict, the list of storage keys), then each storage as an
  8-byte little-endian element count followed by its raw bytes.

In both, the state dict pickle names tensors through ``torch._utils._rebuild_tensor_v2`` and storages
through persistent ids ``('storage', torch.<Type>Storage, key, location, numel[, view])``. The
restricted unpickler below resolves only those names (and ``collections.OrderedDict``) to our own
functions; any other global is refused with :class:`PthError`, so a hostile file cannot run code.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from sightline.errors import ModelError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_FILE_BYTES = 512 * 1024 * 1024

# torch storage type -> numpy dtype (little-endian); bfloat16 has no numpy dtype and is refused.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class PthError(ModelError):
    """A ``.pth`` file that is not a plain state dict we can read safely."""

    code = "bad_pth"


@dataclass(frozen=True)
class StorageType:
    """Stands in for ``torch.<Name>Storage`` in the pickle: only its dtype matters."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass
class Storage:
    """One flat storage: its dtype, element count and (once read) the elements."""

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None

    def elements(self) -> np.ndarray:
        if self.data is None:
            raise PthError(f"storage {self.key!r} is named by the pickle but its bytes are missing")
        return self.data


@dataclass(frozen=True)
class StorageView:
    """A legacy storage view: ``numel`` elements of ``base`` starting at ``offset``."""

    base: Storage
    offset: int
    numel: int


def _ordered_dict(*args: Any) -> OrderedDict:
    return OrderedDict(*args)


@dataclass(frozen=True)
class PendingTensor:
    """A tensor named by the pickle; legacy files store the bytes after the pickle, so it is built later."""

    storage: Storage | StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        """A contiguous copy of the strided view ``(offset, size, stride)`` of the storage (bounds checked)."""
        storage = self.storage
        base, base_offset = (storage.base, storage.offset) if isinstance(storage, StorageView) else (storage, 0)
        flat = base.elements()
        size, stride = self.size, self.stride
        if len(size) != len(stride) or any(v < 0 for v in (*size, *stride, self.offset)):
            raise PthError(f"tensor with bad geometry: size {size}, stride {stride}, offset {self.offset}")
        start = base_offset + self.offset
        if 0 in size:
            return np.zeros(size, dtype=flat.dtype)
        last = start + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if start >= flat.size or last >= flat.size:
            raise PthError(f"tensor reaches element {last} of a storage of {flat.size} (corrupt or hostile file)")
        view = np.lib.stride_tricks.as_strided(flat[start:], shape=size,
                                               strides=tuple(s * flat.itemsize for s in stride), writeable=False)
        return np.array(view, order="C")  # a copy; keeps 0-d tensors 0-d (ascontiguousarray would not)


def _rebuild_tensor(storage: Storage | StorageView, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_ignored: Any) -> PendingTensor:
    if not isinstance(storage, Storage | StorageView):
        raise PthError(f"tensor over {type(storage).__name__}, not a storage")
    try:
        return PendingTensor(storage, int(offset), tuple(int(v) for v in size), tuple(int(v) for v in stride))
    except (TypeError, ValueError):
        raise PthError(f"tensor with bad geometry: size {size!r:.60}, stride {stride!r:.60}") from None


def _rebuild_parameter(data: PendingTensor, *_ignored: Any) -> PendingTensor:
    return data


# The only globals a state dict needs; everything else is refused.
ALLOWED: dict[tuple[str, str], Callable[..., Any] | StorageType] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that maps the allowed torch names to our functions and refuses every other global."""

    def __init__(self, handle: BinaryIO, storages: dict[str, Storage]) -> None:
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise PthError(f"refusing to load {module}.{name}: a .pth state dict holds only tensors "
                           "(this file names other Python objects, which could run code)") from None

    def persistent_load(self, pid: Any) -> Storage | StorageView:
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise PthError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, StorageType):
            raise PthError(f"storage {key!r} has type {storage_type!r:.60}, not a torch storage type")
        key, numel = str(key), int(numel)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(key, storage_type.dtype, numel)
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy view: (view_key, offset, view_numel)
            _view_key, offset, view_numel = view
            return StorageView(storage, int(offset), int(view_numel))
        return storage


def _unpickle(data: bytes, storages: dict[str, Storage]) -> Any:
    try:
        return _StateDictUnpickler(io.BytesIO(data), storages).load()
    except PthError:
        raise
    except Exception as exc:  # malformed pickle streams raise many types
        raise PthError(f"cannot read the state dict pickle: {exc}") from None


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy header pickles: plain data only, no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise PthError(f"refusing to load {module}.{name} in a .pth header")


def _plain_load(handle: BinaryIO) -> Any:
    return _PlainUnpickler(handle).load()


def _read_zip(path: Path) -> tuple[Any, dict[str, Storage]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise PthError(f"{path.name}: expected one data.pkl in the zip, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() != b"little":
            raise PthError(f"{path.name}: big-endian tensors are not supported")
        storages: dict[str, Storage] = {}
        result = _unpickle(archive.read(pickles[0]), storages)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise PthError(f"{path.name}: storage {member} is missing")
            if archive.getinfo(member).file_size < storage.numel * storage.dtype.itemsize:
                raise PthError(f"{path.name}: storage {key} is shorter than its {storage.numel} elements")
            raw = archive.read(member)
            storage.data = np.frombuffer(raw, dtype=storage.dtype, count=storage.numel)
    return result, storages


def _read_legacy(path: Path) -> tuple[Any, dict[str, Storage]]:
    data = path.read_bytes()
    handle = io.BytesIO(data)
    try:
        magic, protocol, info = _plain_load(handle), _plain_load(handle), _plain_load(handle)
    except PthError:
        raise
    except Exception:
        raise PthError(f"{path.name} is neither a zip nor a legacy PyTorch file") from None
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise PthError(f"{path.name}: not a legacy PyTorch file (magic {magic!r:.40}, protocol {protocol!r:.40})")
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise PthError(f"{path.name}: only little-endian files are supported")
    storages: dict[str, Storage] = {}
    try:  # consecutive pickles: load() stops right after this one's STOP opcode
        result = _StateDictUnpickler(handle, storages).load()
    except PthError:
        raise
    except Exception as exc:
        raise PthError(f"{path.name}: cannot read the state dict pickle: {exc}") from None
    keys = _plain_load(handle)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise PthError(f"{path.name}: the storage list does not match the tensors named by the pickle")
    for key in map(str, keys):
        storage = storages[key]
        header = handle.read(8)
        if len(header) != 8:
            raise PthError(f"{path.name}: file ends before storage {key}")
        (count,) = struct.unpack("<q", header)
        if count != storage.numel:
            raise PthError(f"{path.name}: storage {key} holds {count} elements, the pickle says {storage.numel}")
        nbytes = count * storage.dtype.itemsize
        raw = handle.read(nbytes)
        if len(raw) != nbytes:
            raise PthError(f"{path.name}: storage {key} is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return result, storages


def load_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """The tensors of the ``.pth`` state dict at ``path`` as numpy arrays (right dtype, shape and strides).

    A leading ``module.`` (left by ``nn.DataParallel``) is stripped from every key. Raises
    :class:`PthError` for anything but a plain state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise PthError(f"no .pth file at {path}", code="model_missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PthError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    try:
        result, _ = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
        if not isinstance(result, dict):
            raise PthError(f"{path.name} holds a {type(result).__name__}, not a state dict")
        tensors: OrderedDict[str, np.ndarray] = OrderedDict()
        for key, value in result.items():
            if not isinstance(key, str) or not isinstance(value, PendingTensor):
                raise PthError(f"{path.name}: entry {key!r:.60} is not a named tensor")
            tensors[key.removeprefix("module.")] = value.materialise()
        return tensors
    except PthError:
        raise
    except Exception as exc:  # a crafted file can reach odd states (e.g. BUILD on our placeholders)
        raise PthError(f"{path.name} is not a well-formed state dict: {type(exc).__name__}: {exc}") from None
