"""The 80 COCO class names (in the order detector class ids use) and name lookup."""

from __future__ import annotations

from collections.abc import Iterable

from sightline.errors import ConfigError

COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

_INDEX = {name: index for index, name in enumerate(COCO_LABELS)}


def _normalise(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def class_ids(names: Iterable[str] | str | None) -> frozenset[int] | None:
    """COCO class ids for ``names`` (a list, or one comma-separated string); None means every class.

    Names are matched case-insensitively and ``_``/``-`` count as spaces, so
    ``traffic_light`` and ``Traffic-Light`` both mean ``traffic light``.
    Raises :class:`ConfigError` naming any unknown class.
    """
    if names is None:
        return None
    if isinstance(names, str):
        names = names.split(",")
    wanted = [_normalise(n) for n in names if n.strip()]
    if not wanted:
        return None
    unknown = sorted({n for n in wanted if n not in _INDEX})
    if unknown:
        raise ConfigError(
            f"unknown object class(es): {', '.join(unknown)}; known COCO classes are: {', '.join(COCO_LABELS)}",
            code="unknown_class",
        )
    return frozenset(_INDEX[n] for n in wanted)
