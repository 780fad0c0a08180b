"""Passive liveness: share of presentation attacks accepted and of live faces rejected, per model and combination.

Data (all under ``SIGHTLINE_DATA``):

* real attacks: ``antispoof-samples/image_F1.jpg``, ``image_F2.jpg`` (a photo/screen shown to a camera);
* **simulated** attacks (made here from real faces-small photos; not real presentation attacks, a
  stress test only): a printed photo (reduced contrast, halftone dots, paper border, blur) and a
  screen replay (sub-pixel grid, moire from a rotated resample, glare);
* live: ``antispoof-samples/image_T1.jpg``, every face of faces-small, every face at least 48 px high
  in every 5th frame of the Hamilton clip (real video of people on stage), the central face of a seeded
  sample of LFW deep-funneled images (web photos of real people, JPEG-compressed and warped by the
  funnelling: a harder "live" set than a terminal camera).

``python bench/liveness.py [--lfw 300]`` prints a markdown table; nothing is asserted. ``--challenges``
prints the eye-openness figures on LFW photos with shut eyes (checked by eye) and the blinks and head
turns read from the Hamilton clip's main shot instead.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, list_images, machine_summary, markdown_table  # noqa: E402

from sightline.models.liveness import build_passive_liveness  # noqa: E402
from sightline.models.onnx import create_session  # noqa: E402
from sightline.models.store import ModelStore  # noqa: E402
from sightline.models.zoo import Runtime, build_component  # noqa: E402
from sightline.vision.faces.types import Face  # noqa: E402
from sightline.vision.liveness.crops import square_crop  # noqa: E402
from sightline.vision.liveness.passive import PassiveLiveness  # noqa: E402

Scorer = Callable[[np.ndarray, Face], float]
THRESHOLD = 0.5


def simulated_print(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A printed photo held up to the camera (simulated): flat contrast, halftone dots, paper border, blur."""
    flat = cv2.convertScaleAbs(image, alpha=0.7, beta=45)
    h, w = flat.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    dots = (np.sin(xx * 1.3) * np.sin(yy * 1.3) * 12).astype(np.float32)[..., None]
    printed = np.clip(flat.astype(np.float32) + dots + rng.normal(0, 4, flat.shape), 0, 255).astype(np.uint8)
    border = int(0.08 * max(h, w))
    paper = cv2.copyMakeBorder(printed, border, border, border, border, cv2.BORDER_CONSTANT, value=(225, 228, 230))
    scene = np.full((paper.shape[0] + 4 * border, paper.shape[1] + 4 * border, 3), (60, 70, 80), np.uint8)
    scene[2 * border:2 * border + paper.shape[0], 2 * border:2 * border + paper.shape[1]] = paper
    return cv2.GaussianBlur(scene, (3, 3), 0.8)


def simulated_screen(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone/monitor replay (simulated): RGB sub-pixel stripes, moire from a rotated resample, glare."""
    h, w = image.shape[:2]
    big = cv2.resize(image, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    for channel in range(3):  # each pixel column lit in one colour (BGR stripes)
        big[:, [c for c in range(big.shape[1]) if c % 3 != 2 - channel], channel] *= 0.55
    angle = float(rng.uniform(2, 6))
    matrix = cv2.getRotationMatrix2D((w * 1.5, h * 1.5), angle, 1.0)
    big = cv2.warpAffine(big, matrix, (w * 3, h * 3), borderMode=cv2.BORDER_REFLECT)
    screen = cv2.resize(big, (w, h), interpolation=cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:h, 0:w]
    glare = 70 * np.exp(-(((xx - 0.7 * w) / (0.25 * w)) ** 2 + ((yy - 0.3 * h) / (0.2 * h)) ** 2))
    screen = screen * np.array([1.08, 1.0, 0.9]) + glare[..., None]
    return np.clip(screen, 0, 255).astype(np.uint8)


def _human_scorers(store: ModelStore) -> dict[str, Scorer]:
    antispoof = create_session(store.path("antispoof"), spin=False)
    liveness = create_session(store.path("liveness"), spin=False)

    def human_antispoof(image: np.ndarray, face: Face) -> float:
        crop = square_crop(image, face.box, 1.0, 128)[..., ::-1].astype(np.float32) / 255.0
        return float(antispoof.run(None, {antispoof.get_inputs()[0].name: crop[None]})[0].ravel()[0])

    def human_liveness(image: np.ndarray, face: Face) -> float:
        crop = square_crop(image, face.box, 1.0, 32)[..., ::-1].astype(np.float32) / 255.0
        return float(liveness.run(None, {liveness.get_inputs()[0].name: crop[None]})[0].ravel()[0])

    return {"human-antispoof": human_antispoof, "human-liveness": human_liveness}


def scorers(store: ModelStore) -> dict[str, Scorer]:
    """Every model and combination measured, by the name in the table."""
    pair = build_passive_liveness(store=store)
    celeb = build_passive_liveness("minifasnet-celebaspoof", store=store)
    v2, v1se = (PassiveLiveness([net], model=net.name) for net in pair.nets)
    out: dict[str, Scorer] = {
        "minifasnet (V2 2.7x + V1SE 4.0x, default)": lambda im, f: pair.score(im, f).live,
        "minifasnet-v2 alone": lambda im, f: v2.score(im, f).live,
        "minifasnet-v1se alone": lambda im, f: v1se.score(im, f).live,
        "minifasnet-celebaspoof (opt-in, non-commercial)": lambda im, f: celeb.score(im, f).live,
    }
    human = _human_scorers(store)
    out.update(human)
    for name, extra in human.items():
        out[f"minifasnet AND {name}"] = (lambda e: lambda im, f: min(pair.score(im, f).live, e(im, f)))(extra)
    return out


def _main_face(detector, image: np.ndarray, centre: bool = False) -> Face | None:
    faces = detector.detect(image)
    if not faces:
        return None
    if centre:
        h, w = image.shape[:2]
        return min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))
    return max(faces, key=lambda f: f.width * f.height)


def samples(detector, lfw_count: int) -> dict[str, list[tuple[np.ndarray, Face]]]:
    """(image, face) pairs per group: real attacks, simulated attacks, live faces-small, clip and LFW."""
    root = data_dir()
    rng = np.random.default_rng(0)
    groups: dict[str, list[tuple[np.ndarray, Face]]] = {"attack_real": [], "attack_simulated": [],
                                                         "live_faces_small": [], "live_clip": [], "live_lfw": []}
    for name, group in (("image_F1", "attack_real"), ("image_F2", "attack_real"), ("image_T1", "live_faces_small")):
        image = cv2.imread(str(root / "antispoof-samples" / f"{name}.jpg"))
        face = _main_face(detector, image)
        if face is not None:
            groups[group].append((image, face))
    for path in list_images(root / "faces-small"):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        faces = detector.detect(image)
        groups["live_faces_small"] += [(image, face) for face in faces]
        if len(faces) == 1:
            for make in (simulated_print, simulated_screen):
                attack = make(image, rng)
                face = _main_face(detector, attack)
                if face is not None:
                    groups["attack_simulated"].append((attack, face))
    capture = cv2.VideoCapture(str(root / "faces-small" / "examples" / "short_hamilton_clip.mp4"))
    index = 0
    while True:  # every 5th frame: every face at least 48 px high (a terminal's camera sees bigger faces)
        ok, frame = capture.read()
        if not ok:
            break
        if index % 5 == 0:
            groups["live_clip"] += [(frame, face) for face in detector.detect(frame) if face.height >= 48]
        index += 1
    lfw = sorted((root / "lfw" / "images").glob("*/*.jpg"))
    for path in random.Random(0).sample(lfw, min(lfw_count, len(lfw))):
        image = cv2.imread(str(path))
        face = _main_face(detector, image, centre=True)
        if face is not None:
            groups["live_lfw"].append((image, face))
    return groups


# LFW photos with the eyes shut (checked by eye), each with an open-eye photo of the same person
CLOSED_OPEN = (("Rubens_Barrichello_0012", "Rubens_Barrichello_0006"), ("Roseanne_Barr_0002", "Roseanne_Barr_0003"),
               ("John_Paul_II_0008", "John_Paul_II_0010"), ("Erika_Harold_0003", "Erika_Harold_0005"),
               ("Ray_Allen_0002", "Ray_Allen_0001"), ("Edmund_Stoiber_0009", "Edmund_Stoiber_0012"),
               ("Alex_Barros_0002", "Alex_Barros_0001"))
# more LFW photos with the eyes shut (checked by eye) that the landmark model reads as open-ish
CLOSED_HARD = ("Bruce_Springsteen_0001", "Vince_Gill_0002")


def challenge_tables(store: ModelStore, detector) -> str:
    """Eye aspect ratio on closed/open LFW pairs and blinks/turns over the Hamilton clip's main shot."""
    from sightline.models.liveness import build_landmarks68
    from sightline.vision.liveness.eyes import BlinkDetector
    from sightline.vision.liveness.head_pose import head_turn, yaw_ratio

    landmarks, blinks = build_landmarks68(store=store), BlinkDetector()
    rows, times = [], []
    for closed, opened in CLOSED_OPEN:
        ears = []
        for stem in (closed, opened):
            image = cv2.imread(str(data_dir() / "lfw" / "images" / stem.rsplit("_", 1)[0] / f"{stem}.jpg"))
            face = _main_face(detector, image, centre=True)
            start = time.perf_counter()
            ears.append(landmarks.eye_aspect_ratio(image, face))
            times.append((time.perf_counter() - start) * 1000)
        found = blinks.blinked([ears[1], ears[1], ears[0], ears[0], ears[1], ears[1]])
        rows.append([f"{closed} / {opened}", f"{ears[0]:.3f}", f"{ears[1]:.3f}", "yes" if found else "no"])
    for stem in CLOSED_HARD:
        image = cv2.imread(str(data_dir() / "lfw" / "images" / stem.rsplit("_", 1)[0] / f"{stem}.jpg"))
        ear = landmarks.eye_aspect_ratio(image, _main_face(detector, image, centre=True))
        rows.append([f"{stem} (shut) / —", f"{ear:.3f}", "—", "closed" if ear < blinks.closed_max else "read as open"])
    out = [markdown_table(["closed / open photo (LFW)", "EAR closed", "EAR open", "blink found in o,o,c,c,o,o"],
                          rows), f"\nfr_landmark: {np.median(times):.1f} ms per face (median)\n"]
    offsets = []  # fr_landmark's eye centres against YuNet's eyes, in inter-ocular distances
    for path in list_images(data_dir() / "faces-small"):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        for face in detector.detect(image) if image is not None else []:
            points = landmarks.landmarks(image, face)
            distance = float(np.linalg.norm(face.landmarks[0] - face.landmarks[1]))
            offsets += [np.linalg.norm(points[36:42].mean(0) - face.landmarks[0]) / distance,
                        np.linalg.norm(points[42:48].mean(0) - face.landmarks[1]) / distance]
    out.append(f"fr_landmark eye centres vs YuNet's eyes on faces-small ({len(offsets) // 2} faces): median "
               f"{np.median(offsets):.3f}, 90th percentile {np.percentile(offsets, 90):.3f} inter-ocular distances\n")
    capture = cv2.VideoCapture(str(data_dir() / "faces-small" / "examples" / "short_hamilton_clip.mp4"))
    ears, poses, index = [], [], 0
    while True:
        ok, frame = capture.read()
        if not ok or index > 210:
            break
        if index >= 82:  # one shot of one singer (frames 82-210)
            face = _main_face(detector, frame)
            ears.append(landmarks.eye_aspect_ratio(frame, face) if face else None)
            poses.append(head_turn(yaw_ratio(face)) if face else "none")
        index += 1
    counts = {pose: poses.count(pose) for pose in ("frontal", "between", "left", "right", "none")}
    out.append(f"Hamilton clip frames 82-210 ({len(poses)} frames): blinks flagged {len(blinks.blinks(ears))}; "
               f"head pose per frame {counts} (the person's own left/right, frame not mirrored)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=int, default=300, help="LFW images sampled as live faces (seed 0)")
    parser.add_argument("--challenges", action="store_true", help="only the eye-openness / head-pose tables")
    args = parser.parse_args(argv)
    store = ModelStore()
    detector = build_component("yunet", Runtime(store))
    if args.challenges:
        print(challenge_tables(store, detector))
        return
    groups = samples(detector, args.lfw)
    columns = (("attack_real", True, "real attacks accepted"), ("attack_simulated", True, "simulated attacks accepted"),
               ("live_faces_small", False, "live rejected, faces-small"), ("live_clip", False, "live rejected, clip"),
               ("live_lfw", False, "live rejected, LFW"))
    headers = ["model / combination", *(f"{title} (n={len(groups[group])})" for group, _, title in columns),
               "ms/face (median)"]
    scores: dict[str, dict[str, list[float]]] = {}
    rows = []
    for name, score in scorers(store).items():
        times: list[float] = []
        scores[name] = {}
        for group, _, _ in columns:
            values = []
            for image, face in groups[group]:
                start = time.perf_counter()
                values.append(score(image, face))
                times.append((time.perf_counter() - start) * 1000)
            scores[name][group] = values
        rows.append([name, *(_share(scores[name][group], THRESHOLD, attack) for group, attack, _ in columns),
                     f"{np.median(times):.1f}"])
    print(f"Passive liveness at threshold {THRESHOLD} (YuNet 2023mar faces). {machine_summary()}\n")
    print(markdown_table(headers, rows))
    default = next(iter(scores))
    sweep = [[f"{t:.2f}", *(_share(scores[default][group], t, attack) for group, attack, _ in columns)]
             for t in (0.3, 0.5, 0.7, 0.9, 0.97)]
    print(f"\n{default} by threshold (for reading only: too few real attacks here to choose one)\n")
    print(markdown_table(["threshold", *(title for _, _, title in columns)], sweep))


def _share(values: list[float], threshold: float, attack: bool) -> str:
    errors = sum((v >= threshold) if attack else (v < threshold) for v in values)
    return f"{errors}/{len(values)} ({100 * errors / max(len(values), 1):.0f} %)"


if __name__ == "__main__":
    main()
