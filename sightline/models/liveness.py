"""Liveness components ready to run: verified files, converted MiniFASNets, opened sessions.

The vision classes in :mod:`sightline.vision.liveness` receive sessions, never model names (the
layering rule of ``vision/``); this module is where the names are looked up in the catalogue, the
``.pth`` files' sha256 checked, and the ONNX conversion made once in the models cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sightline.errors import ConfigError
from sightline.models.onnx import create_session
from sightline.models.store import ModelStore
from sightline.vision.liveness.eyes import Landmarks68
from sightline.vision.liveness.minifasnet import convert_to_cache
from sightline.vision.liveness.passive import CELEBASPOOF_WARNING, DEFAULT_THRESHOLD, LivenessNet, PassiveLiveness

# catalogue name -> crop scale, as upstream pairs them (2.7x for V2, 4.0x for V1SE)
MINIFASNET_OFFICIAL = (("minifasnet-v2", 2.7), ("minifasnet-v1se", 4.0))
PASSIVE_MODELS = ("minifasnet", "minifasnet-celebaspoof")
LANDMARK_MODEL = "faceplugin-landmark"


def minifasnet_onnx(name: str, store: ModelStore | None = None) -> Path:
    """The ONNX conversion of registered MiniFASNet ``name`` (``.pth`` sha256 verified), made once in the cache."""
    store = store or ModelStore()
    source = store.path(name)  # raises model_missing / model_corrupt against the catalogue's sha256
    from sightline.models.registry import get_spec

    return convert_to_cache(source, get_spec(name).sha256, store.cache_dir)


def build_passive_liveness(model: str = "minifasnet", *, store: ModelStore | None = None,
                           threshold: float = DEFAULT_THRESHOLD, providers: Iterable[str] | str | None = None,
                           threads: int | None = None) -> PassiveLiveness:
    """A :class:`PassiveLiveness` for ``model`` (``minifasnet``, or the opt-in ``minifasnet-celebaspoof``)."""
    store = store or ModelStore()
    if model == "minifasnet":
        nets = [LivenessNet(name, create_session(minifasnet_onnx(name, store), providers=providers,
                                                 threads=threads, spin=False), scale)
                for name, scale in MINIFASNET_OFFICIAL]
        return PassiveLiveness(nets, model=model, threshold=threshold)
    if model == "minifasnet-celebaspoof":
        session = create_session(store.path(model), providers=providers, threads=threads, spin=False)
        net = LivenessNet(model, session, 1.5, size=128, kind="square", live_class=0, rgb_unit=True)
        return PassiveLiveness([net], model=model, threshold=threshold, warning=CELEBASPOOF_WARNING)
    raise ConfigError(f"unknown liveness model {model!r}; choose one of: {', '.join(PASSIVE_MODELS)}",
                      code="unknown_liveness_model")


def build_landmarks68(*, store: ModelStore | None = None, providers: Iterable[str] | str | None = None,
                      threads: int | None = None) -> Landmarks68:
    """The 68-point landmark model (eye contours for blinks), hash-checked against the catalogue."""
    store = store or ModelStore()
    return Landmarks68(create_session(store.path(LANDMARK_MODEL), providers=providers, threads=threads, spin=False))
