"""Draw a processed frame for annotated video output, blurring faces of people who are not enrolled."""

from __future__ import annotations

import cv2
import numpy as np

from sightline.privacy.redact import blur_regions
from sightline.video.tracker import Track
from sightline.vision.faces.types import Face
from sightline.vision.objects.types import Detection

_OBJECT = (255, 170, 60)
_NAMED = (80, 200, 80)


def blur_unknown(image: np.ndarray, faces: list[Face], face_names: dict[int, str]) -> np.ndarray:
    """``image`` with every face that is not a named enrolled match blurred."""
    unknown = [f.box for i, f in enumerate(faces) if i not in face_names]
    return blur_regions(image, unknown) if unknown else image


def draw_frame(image: np.ndarray, *, detections: list[Detection], tracks: list[Track], faces: list[Face],
               face_names: dict[int, str], blur_unknown_faces: bool = True) -> np.ndarray:
    """A copy of ``image`` with object tracks and named faces drawn; unknown faces (overlays included) blurred.

    ``face_names`` maps an index into ``faces`` to the enrolled subject's name; every other face is unknown.
    """
    canvas = image.copy()
    labels = {d.class_id: d.label for d in detections}
    for track in tracks:
        if track.det_index is None:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in track.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _OBJECT, 2)
        text = f"{labels.get(track.class_id, track.class_id)} #{track.track_id}"
        cv2.putText(canvas, text, (x1 + 3, max(14, y1 + 16)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _OBJECT, 1, cv2.LINE_AA)
    if blur_unknown_faces:  # after the object boxes: no line or label drawn across an unknown face stays sharp
        canvas = blur_unknown(canvas, faces, face_names)
    for index, name in face_names.items():
        x1, y1, x2, y2 = (int(round(v)) for v in faces[index].box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _NAMED, 2)
        cv2.putText(canvas, name, (x1, max(14, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.55, _NAMED, 2, cv2.LINE_AA)
    return canvas
