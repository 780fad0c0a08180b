"""MiniFASNet (V1, V2, V1SE, V2SE) as an ONNX graph built from a loaded PyTorch state dict.

The network, as minivision published it: a 3x3 stride-2 stem and a depthwise 3x3, then four
stages of inverted-bottleneck blocks (1x1 expand + PReLU, depthwise 3x3 + PReLU, 1x1 project),
each stage opened by a stride-2 block and followed by residual blocks (in the SE variants the last
residual block of a stage scales its output by a squeeze-and-excitation gate), a 1x1 conv to 512
channels, a depthwise conv over the whole 5x5 map, a linear embedding with batch norm and a linear
classifier (3 classes; class 1 is "real"). Channel counts, kernel sizes and which blocks carry SE are
read from the tensors' shapes and names, so the one builder serves every variant. Batch norms are
folded into the preceding convolution or linear layer (``fold_batchnorm=False`` keeps them as
``BatchNormalization`` nodes, to check the folding).

Input ``input`` [N, 3, 80, 80] float32 **BGR, 0-255** (no normalisation); output ``logits`` [N, 3].
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sightline.errors import ModelError
from sightline.vision.liveness.pth import load_state_dict

OPSET = 17
IR_VERSION = 8
BN_EPS = 1e-5
INPUT_SIZE = 80
# (stage name, stride of its first block) in network order; the stride-2 blocks open a stage.
STAGES = (("conv_23", 2), ("conv_3", 1), ("conv_34", 2), ("conv_4", 1), ("conv_45", 2), ("conv_5", 1))


class _Graph:
    """Accumulates ONNX nodes and initialisers with unique names."""

    def __init__(self, weights: Mapping[str, np.ndarray], fold_batchnorm: bool) -> None:
        self.weights = weights
        self.fold = fold_batchnorm
        self.nodes: list = []
        self.initialisers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initialisers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: object) -> str:
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def tensor(self, key: str) -> np.ndarray:
        try:
            return np.asarray(self.weights[key], dtype=np.float32)
        except KeyError:
            raise ModelError(f"MiniFASNet state dict has no {key!r} (not a MiniFASNet checkpoint?)",
                             code="model_corrupt") from None

    def bn_scale_shift(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        gamma, beta = self.tensor(f"{prefix}.weight"), self.tensor(f"{prefix}.bias")
        mean, var = self.tensor(f"{prefix}.running_mean"), self.tensor(f"{prefix}.running_var")
        scale = gamma / np.sqrt(var + BN_EPS)
        return scale, beta - mean * scale

    def batchnorm(self, x: str, prefix: str) -> str:
        """An unfolded ``BatchNormalization`` node (for checking the folded graph)."""
        params = [self.const(f"{prefix}.{p}", self.tensor(f"{prefix}.{p}"))
                  for p in ("weight", "bias", "running_mean", "running_var")]
        return self.node("BatchNormalization", [x, *params], f"{prefix}.bn", epsilon=BN_EPS)

    def conv_bn(self, x: str, conv_key: str, bn_prefix: str, channels: int, *, stride: int = 1,
                pad: int | None = None) -> tuple[str, int]:
        """Conv (no bias) + batch norm (``pad`` None: half the kernel); returns the output and its channels."""
        weight = self.tensor(conv_key)
        out_c, in_per_group, kh, kw = weight.shape
        if channels % in_per_group:
            raise ModelError(f"{conv_key}: {channels} input channels do not split into groups of {in_per_group}",
                             code="model_corrupt")
        attrs = {"group": channels // in_per_group, "kernel_shape": [kh, kw], "strides": [stride, stride],
                 "pads": [kh // 2, kw // 2, kh // 2, kw // 2] if pad is None else [pad] * 4}
        if self.fold:
            scale, shift = self.bn_scale_shift(bn_prefix)
            w = self.const(f"{conv_key}.folded", weight * scale[:, None, None, None])
            return self.node("Conv", [x, w, self.const(f"{bn_prefix}.shift", shift)], conv_key, **attrs), out_c
        y = self.node("Conv", [x, self.const(conv_key, weight)], conv_key, **attrs)
        return self.batchnorm(y, bn_prefix), out_c

    def prelu(self, x: str, key: str) -> str:
        slope = self.tensor(key).reshape(-1, 1, 1)
        return self.node("PRelu", [x, self.const(key, slope)], key)

    def conv_block(self, x: str, prefix: str, channels: int, *, stride: int = 1, prelu: bool = True,
                   pad: int | None = None) -> tuple[str, int]:
        """Upstream's Conv_block (conv, bn, PReLU) or Linear_block (conv, bn)."""
        y, out_c = self.conv_bn(x, f"{prefix}.conv.weight", f"{prefix}.bn", channels, stride=stride, pad=pad)
        return (self.prelu(y, f"{prefix}.prelu.weight") if prelu else y), out_c

    def squeeze_excite(self, x: str, prefix: str, channels: int) -> str:
        pooled = self.node("GlobalAveragePool", [x], f"{prefix}.pool")
        hidden, hidden_c = self.conv_bn(pooled, f"{prefix}.fc1.weight", f"{prefix}.bn1", channels)
        hidden = self.node("Relu", [hidden], f"{prefix}.relu")
        gate, _ = self.conv_bn(hidden, f"{prefix}.fc2.weight", f"{prefix}.bn2", hidden_c)
        return self.node("Mul", [x, self.node("Sigmoid", [gate], f"{prefix}.sigmoid")], f"{prefix}.scale")

    def bottleneck(self, x: str, prefix: str, channels: int, *, stride: int, residual: bool) -> tuple[str, int]:
        """Upstream's Depth_Wise / Depth_Wise_SE block."""
        y, c = self.conv_block(x, f"{prefix}.conv", channels)
        y, c = self.conv_block(y, f"{prefix}.conv_dw", c, stride=stride)
        y, c = self.conv_block(y, f"{prefix}.project", c, prelu=False)
        if residual and f"{prefix}.se_module.fc1.weight" in self.weights:
            y = self.squeeze_excite(y, f"{prefix}.se_module", c)
        if residual:
            if c != channels:
                raise ModelError(f"{prefix}: residual block changes channels {channels} -> {c}", code="model_corrupt")
            y = self.node("Add", [x, y], f"{prefix}.add")
        return y, c

    def linear(self, x: str, key: str, bn_prefix: str | None = None) -> str:
        weight = self.tensor(key)
        bias = self.tensor(key.removesuffix("weight") + "bias") if key.removesuffix("weight") + "bias" in self.weights \
            else np.zeros(weight.shape[0], np.float32)
        if bn_prefix is not None:
            scale, shift = self.bn_scale_shift(bn_prefix)
            weight, bias = weight * scale[:, None], bias * scale + shift
        return self.node("Gemm", [x, self.const(key, weight), self.const(f"{key}.bias", bias)], key, transB=1)


def _blocks(weights: Mapping[str, np.ndarray], stage: str) -> list[str]:
    """Block prefixes of a stage: the stage itself (one block) or ``stage.model.<i>`` in order."""
    pattern = re.compile(rf"^{re.escape(stage)}\.model\.(\d+)\.")
    indices = sorted({int(m.group(1)) for key in weights if (m := pattern.match(key))})
    return [f"{stage}.model.{i}" for i in indices] or [stage]


def build_onnx(weights: Mapping[str, np.ndarray], *, name: str = "minifasnet", fold_batchnorm: bool = True):
    """The ``onnx.ModelProto`` of the MiniFASNet whose state dict is ``weights`` (keys without ``module.``)."""
    import onnx
    from onnx import TensorProto, helper

    graph = _Graph(weights, fold_batchnorm)
    x, c = graph.conv_block("input", "conv1", 3, stride=2)
    x, c = graph.conv_block(x, "conv2_dw", c)
    for stage, stride in STAGES:
        for prefix in _blocks(weights, stage):
            x, c = graph.bottleneck(x, prefix, c, stride=stride, residual=stride == 1)
    x, c = graph.conv_block(x, "conv_6_sep", c)
    x, c = graph.conv_block(x, "conv_6_dw", c, prelu=False, pad=0)  # one output per channel: kernel = map size
    x = graph.node("Flatten", [x], "flatten", axis=1)
    if "linear.weight" in weights:
        x = graph.linear(x, "linear.weight", "bn" if fold_batchnorm else None)
        if not fold_batchnorm:
            x = graph.node("Unsqueeze", [x, graph.const("axes", np.array([2], np.int64))], "bn.unsqueeze")
            x = graph.node("Flatten", [graph.batchnorm(x, "bn")], "bn.flatten", axis=1)
    x = graph.linear(x, "prob.weight")
    graph.nodes[-1].output[0] = "logits"
    classes = int(graph.tensor("prob.weight").shape[0])
    model = helper.make_model(
        helper.make_graph(graph.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            ["N", 3, INPUT_SIZE, INPUT_SIZE])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
                          graph.initialisers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sightline", ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model


def converted_path(cache_dir: Path, pth_path: Path, pth_sha256: str) -> Path:
    """Where the ONNX conversion of ``pth_path`` lives in the models cache, keyed by the source's sha256."""
    return Path(cache_dir) / "converted" / "minifasnet" / f"{Path(pth_path).stem}-{pth_sha256[:16]}.onnx"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert_to_cache(pth_path: str | Path, pth_sha256: str, cache_dir: str | Path) -> Path:
    """The ONNX file converted from ``pth_path`` (whose sha256 the caller verified), made once in ``cache_dir``.

    A sidecar ``.json`` records the source's and the ONNX file's sha256 and the onnx version; a cached
    file that no longer matches its record (or was made from another source) is rebuilt. Writes are
    atomic (temporary file, then rename), so concurrent processes never read half a model.
    """
    import onnx

    pth_path = Path(pth_path)
    target = converted_path(Path(cache_dir), pth_path, pth_sha256)
    meta_path = target.with_suffix(".json")
    if target.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if meta.get("source_sha256") == pth_sha256 and meta.get("sha256") == _sha256(target):
            return target
    model = build_onnx(load_state_dict(pth_path), name=pth_path.stem)
    data = model.SerializeToString()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".onnx", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    meta = {"source": pth_path.name, "source_sha256": pth_sha256, "sha256": hashlib.sha256(data).hexdigest(),
            "onnx": onnx.__version__, "opset": OPSET, "converter": "sightline.vision.liveness.minifasnet",
            "created": datetime.now(UTC).isoformat(timespec="seconds")}
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".json", dir=target.parent)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, meta_path)
    return target
