"""The torch-free .pth loader on the official MiniFASNet files, a zip-format file written here, and hostile pickles."""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from sightline.vision.liveness.pth import LEGACY_MAGIC, PthError, load_state_dict


@pytest.fixture(scope="module")
def models_root(models_dir: Path) -> Path:
    root = models_dir / "antispoof" / "minifasnet-official"
    assert root.is_dir(), f"missing {root}"
    return root


def test_official_legacy_files_load_with_dtypes_and_shapes(models_root: Path):
    v2 = load_state_dict(models_root / "2.7_80x80_MiniFASNetV2.pth")
    v1se = load_state_dict(models_root / "4_0_0_80x80_MiniFASNetV1SE.pth")
    assert len(v2) == 334 and len(v1se) == 370  # V1SE adds one SE module (12 tensors) to each of 3 stages
    assert not any(k.startswith("module.") for k in v2)  # DataParallel prefix stripped
    assert v2["conv1.conv.weight"].shape == (32, 3, 3, 3) and v2["conv1.conv.weight"].dtype == np.float32
    assert v2["conv1.bn.num_batches_tracked"].dtype == np.int64
    assert v2["prob.weight"].shape == (3, 128) and v1se["conv_6_dw.conv.weight"].shape == (512, 1, 5, 5)
    assert sum(k.endswith(".se_module.fc1.weight") for k in v1se) == 3
    # batch-norm variances are positive and the stem's statistics are on the 0-255 pixel scale
    assert all((v > 0).all() for k, v in v2.items() if k.endswith("running_var"))
    assert np.abs(v2["conv1.bn.running_mean"]).max() > 10


def test_legacy_storage_bytes_are_read_where_torch_puts_them(models_root: Path):
    """Each tensor's little-endian bytes are a run of the file preceded by its int64 element count."""
    path = models_root / "2.7_80x80_MiniFASNetV2.pth"
    data = path.read_bytes()
    weights = load_state_dict(path)
    for key, tensor in weights.items():
        raw = tensor.astype(tensor.dtype.newbyteorder("<")).tobytes()
        at = data.find(raw)
        assert at > 0, key
        (count,) = struct.unpack("<q", data[at - 8:at])
        assert count == tensor.size, key


class _Ref:
    def __init__(self, key: str, flat: np.ndarray) -> None:
        self.key, self.flat = key, flat


class _Tensor:
    def __init__(self, ref: _Ref, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args = (ref, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


def _write_zip_pth(path: Path, tensors: dict[str, _Tensor], refs: list[_Ref], monkeypatch) -> None:
    """A torch >= 1.6 zip checkpoint, written with stand-ins registered under torch's names."""
    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage_types = {}
    for name in ("FloatStorage", "LongStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch_mod, name, cls)
        storage_types[name] = cls
    monkeypatch.setitem(sys.modules, "torch", torch_mod)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_mod)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Ref):
                kind = "LongStorage" if obj.flat.dtype == np.int64 else "FloatStorage"
                return ("storage", storage_types[kind], obj.key, "cpu", obj.flat.size)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(OrderedDict(tensors))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ckpt/data.pkl", buffer.getvalue())
        archive.writestr("ckpt/byteorder", "little")
        for ref in refs:
            archive.writestr(f"ckpt/data/{ref.key}", ref.flat.tobytes())


def test_zip_format_with_strides_offsets_and_shared_storage(tmp_path: Path, monkeypatch):
    flat = np.arange(24, dtype=np.float32) * 0.5
    counts = np.array([7, 92385], dtype=np.int64)
    ref, ref_long = _Ref("0", flat), _Ref("1", counts)
    tensors = {
        "module.a": _Tensor(ref, 0, (2, 3, 4), (12, 4, 1)),
        "module.t": _Tensor(ref, 0, (4, 3), (1, 4)),  # a transposed view of the first 12 elements
        "module.tail": _Tensor(ref, 14, (2, 5), (5, 1)),  # an offset view sharing the storage
        "module.n": _Tensor(ref_long, 1, (), ()),  # a 0-d int64 tensor
    }
    path = tmp_path / "small.pth"
    _write_zip_pth(path, tensors, [ref, ref_long], monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # the loader must not need the stand-ins
    monkeypatch.delitem(sys.modules, "torch._utils")
    loaded = load_state_dict(path)
    assert list(loaded) == ["a", "t", "tail", "n"]
    np.testing.assert_array_equal(loaded["a"], flat.reshape(2, 3, 4))
    np.testing.assert_array_equal(loaded["t"], flat[:12].reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["tail"], flat[14:24].reshape(2, 5))
    assert loaded["n"].shape == () and loaded["n"].dtype == np.int64 and int(loaded["n"]) == 92385


def test_a_view_past_the_storage_is_refused(tmp_path: Path, monkeypatch):
    ref = _Ref("0", np.zeros(6, dtype=np.float32))
    path = tmp_path / "oob.pth"
    _write_zip_pth(path, {"w": _Tensor(ref, 2, (3, 2), (2, 1))}, [ref], monkeypatch)
    with pytest.raises(PthError, match="reaches element"):
        load_state_dict(path)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_arbitrary_globals_are_refused_and_never_run(tmp_path: Path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(OrderedDict(w=_Evil(marker)), protocol=2)
    zip_path = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    legacy_path = tmp_path / "evil_legacy.pth"
    legacy_path.write_bytes(pickle.dumps(LEGACY_MAGIC, 2) + pickle.dumps(1001, 2)
                            + pickle.dumps({"little_endian": True}, 2) + payload + pickle.dumps([], 2))
    for path in (zip_path, legacy_path):
        with pytest.raises(PthError, match=r"refusing to load (posix|os)\.system"):
            load_state_dict(path)
    assert not marker.exists()


def test_not_a_checkpoint_is_a_clear_error(tmp_path: Path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not a checkpoint")
    with pytest.raises(PthError, match="neither a zip nor a legacy PyTorch file"):
        load_state_dict(junk)
    with pytest.raises(PthError, match="no .pth file"):
        load_state_dict(tmp_path / "missing.pth")


def test_a_crafted_tensor_geometry_is_a_clear_error(tmp_path: Path, monkeypatch):
    """A pickle that BUILDs odd state into a tensor placeholder ends in PthError, not a TypeError."""

    class _Odd(_Tensor):
        def __reduce__(self):
            return (*super().__reduce__(), {"size": ("x", "y")})

    ref = _Ref("0", np.zeros(6, dtype=np.float32))
    path = tmp_path / "odd.pth"
    _write_zip_pth(path, {"w": _Odd(ref, 0, (2, 3), (3, 1))}, [ref], monkeypatch)
    with pytest.raises(PthError, match="not a well-formed state dict"):
        load_state_dict(path)
