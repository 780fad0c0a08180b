"""Where should dlib's shape predictor run when YuNet found the face? A view-1-only study.

    python bench/dlib_box.py [--fit 400] [--check 400]

dlib's 5-point shape predictor (whose points place dlib's 150x150 chip) was trained on dlib HOG
boxes; YuNet's boxes are framed differently. On LFW view 1 (``pairsDevTrain.txt`` images to fit,
``pairsDevTest.txt`` images to check), for faces both detectors find, this fits the HOG box in
ArcFace-template coordinates (median over faces, via the YuNet landmarks) and reports how far the
shape predictor's points land from where they land on the HOG box, when run on (a) YuNet's box and
(b) the fitted template box placed by YuNet's landmarks (mean distance / inter-ocular distance).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, markdown_table  # noqa: E402
from lfw import pick_face  # noqa: E402
from protocol import lfw_image_path, read_pairs  # noqa: E402

from sightline.models.store import ModelStore  # noqa: E402
from sightline.models.zoo import Runtime, build_component  # noqa: E402
from sightline.vision.faces.align import ARCFACE_TEMPLATE_112, similarity_transform  # noqa: E402


def view1_images(name: str, limit: int) -> list[Path]:
    root = data_dir() / "lfw"
    seen: dict[Path, None] = {}
    for p in read_pairs(root / name):
        seen[lfw_image_path(root / "images", p.name_a, p.num_a)] = None
        seen[lfw_image_path(root / "images", p.name_b, p.num_b)] = None
    return sorted(seen)[:: max(1, len(seen) // limit)][:limit]


def detections(paths: list[Path]):
    """(image, YuNet face, HOG dlib rectangle) for images where both find the central face."""
    import dlib

    runtime = Runtime(ModelStore())
    yunet = build_component("yunet", runtime)
    hog = dlib.get_frontal_face_detector()
    for path in paths:
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        faces = yunet.detect(image)
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rects = hog(rgb, 1)
        if not faces or not len(rects):
            continue
        face = pick_face(faces, h, w, "centre")
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        rect = min(rects, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
        yield rgb, face, rect


def template_box(face, rect) -> np.ndarray:
    """The HOG rectangle in ArcFace-template coordinates (through the inverse landmark similarity)."""
    matrix = similarity_transform(face.landmarks, ARCFACE_TEMPLATE_112)
    corners = np.array([[rect.left(), rect.top()], [rect.right() + 1, rect.bottom() + 1]], dtype=np.float64)
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    centre = mapped.mean(axis=0)
    side = float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))) * np.array(
        [rect.width(), rect.height()], dtype=np.float64)
    return np.concatenate([centre - side / 2, centre + side / 2])


def main() -> int:
    import dlib

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", type=int, default=400, help="pairsDevTrain images used to fit the box")
    parser.add_argument("--check", type=int, default=400, help="pairsDevTest images used to check it")
    args = parser.parse_args()
    boxes = np.array([template_box(face, rect) for _, face, rect in detections(
        view1_images("pairsDevTrain.txt", args.fit))])
    fitted = np.median(boxes, axis=0)
    predictor = dlib.shape_predictor(str(ModelStore().path("dlib-shape5")))
    from sightline.vision.faces.embedders import DlibResnetEmbedder

    placer = DlibResnetEmbedder.predictor_box
    holder = type("Holder", (), {"box_from_landmarks": tuple(fitted)})()
    errors: dict[str, list[float]] = {"YuNet box": [], "template box from YuNet landmarks": []}
    for rgb, face, rect in detections(view1_images("pairsDevTest.txt", args.check)):
        reference = np.array([[p.x, p.y] for p in predictor(rgb, rect).parts()], dtype=np.float64)
        iod = np.linalg.norm(reference[:2].mean(0) - reference[2:4].mean(0))
        for label, box in (("YuNet box", face.box), ("template box from YuNet landmarks", placer(holder, face))):
            r = dlib.rectangle(*(int(round(v)) for v in box))
            points = np.array([[p.x, p.y] for p in predictor(rgb, r).parts()], dtype=np.float64)
            errors[label].append(float(np.linalg.norm(points - reference, axis=1).mean() / iod))
    print(f"fitted HOG box in template coordinates (x1, y1, x2, y2), median of {len(boxes)} DevTrain faces: "
          + ", ".join(f"{v:.1f}" for v in fitted))
    print()
    print(markdown_table(["shape predictor run on", "faces", "mean point error / inter-ocular (vs HOG box)",
                          "90th percentile"],
                         [[k, len(v), f"{np.mean(v):.4f}", f"{np.percentile(v, 90):.4f}"] for k, v in errors.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
