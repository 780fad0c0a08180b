"""Draw a processed frame for annotated video output, blurring faces of people who are not enrolled."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from sightline.video.pipeline import FrameResult

_OBJECT = (255, 170, 60)
_NAMED = (80, 200, 80)


def draw_frame(result: FrameResult, *, blur_unknown_faces: bool = True) -> np.ndarray:
    """The frame of ``result`` with object tracks and named faces drawn; unknown faces blurred by default."""
    from sightline.video.pipeline import blur_unknown

    image = result.frame.image_bgr
    canvas = blur_unknown(image, result.faces, result.face_names) if blur_unknown_faces else image.copy()
    if canvas is image:
        canvas = image.copy()
    labels = {d.class_id: d.label for d in result.detections}
    for track in result.tracks:
        if track.det_index is None:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in track.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _OBJECT, 2)
        text = f"{labels.get(track.class_id, track.class_id)} #{track.track_id}"
        cv2.putText(canvas, text, (x1 + 3, max(14, y1 + 16)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _OBJECT, 1, cv2.LINE_AA)
    for index, name in result.face_names.items():
        x1, y1, x2, y2 = (int(round(v)) for v in result.faces[index].box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _NAMED, 2)
        cv2.putText(canvas, name, (x1, max(14, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.55, _NAMED, 2, cv2.LINE_AA)
    return canvas
