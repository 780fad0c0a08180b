"""Per-stage face pipeline latency for each Sightline backend, side by side with ``face_recognition``.

    python bench/speed.py [--repeats 3] [--backends yunet-dlib,yunet-mobileface,...] [--images DIR] [--limit N]
                          [--threads 1] [--no-peer] [--json]

Every still image under ``--images`` (default: the faces-small samples; videos
are skipped) goes through decode -> detect -> (quality) -> align -> embed, each
stage timed with ``time.perf_counter``. One untimed warm-up pass runs first;
then each repeat runs every engine over every image in turn, so slow drift on
the machine hits all engines alike. The peer is the ``face_recognition``
package (1.3.0) through its documented API: ``load_image_file``,
``face_locations`` (HOG, its default), ``face_landmarks(model="small")`` and
``face_encodings``. Install it with ``pip install --no-deps face_recognition==1.3.0``
(see bench/README.md); without it, only Sightline's rows are printed. ``--limit N`` takes N images spread
evenly over the sorted list (e.g. ``--images $SIGHTLINE_DATA/lfw/images --limit 60`` for LFW's 250-px
photos); ``--threads`` sets onnxruntime's threads per session (1: one core, like dlib).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import faces_small_dir, list_images, machine_summary, markdown_table, median_p95, timed  # noqa: E402

from sightline import FaceEngine  # noqa: E402
from sightline.errors import ConfigError, SightlineError  # noqa: E402
from sightline.models.zoo import Runtime  # noqa: E402
from sightline.vision.faces.align import align_face  # noqa: E402
from sightline.vision.faces.quality import assess_quality  # noqa: E402
from sightline.vision.image_io import load_image  # noqa: E402

DEFAULT_BACKENDS = "yunet-fused,yunet-dlib,dlib,yunet-mobileface,yunet-frfeature,yunet-insightface"
PEER = "face_recognition"
STAGES = ("decode", "detect", "quality", "align", "embed")
# "align" is timed on its own for the breakdown but both engines' embed calls
# align again internally, so it is not part of the per-image total.
TOTAL_STAGES = ("decode", "detect", "quality", "embed")
FACERES_INPUT = 224  # FaceResEmbedder's crop size


@dataclass
class Measurement:
    """Milliseconds per stage for one image, and how many faces were found."""

    stages: dict[str, float]
    faces: int

    @property
    def total(self) -> float:
        return sum(self.stages.get(stage, 0.0) for stage in TOTAL_STAGES)


class SightlineRunner:
    """One Sightline backend, stage by stage, through the engine's detector and embedder."""

    def __init__(self, backend: str, threads: int | None = None) -> None:
        self.engine = FaceEngine(backend)
        self.engine.runtime = Runtime(self.engine.store, threads=threads)
        self.engine.load()
        self.name = self.engine.backend
        self._align = _aligner(self.engine.embedder)

    def run(self, path: Path) -> Measurement:
        engine = self.engine
        pixels, decode = timed(lambda: load_image(path))
        faces, detect = timed(lambda: engine.detector.detect(pixels))
        _, quality = timed(lambda: [assess_quality(pixels, face) for face in faces])
        _, align = timed(lambda: self._align(pixels, faces) if faces else [])
        _, embed = timed(lambda: engine.embedder.embed(pixels, faces))
        return Measurement({"decode": decode, "detect": detect, "quality": quality, "align": align,
                            "embed": embed}, len(faces))


def _aligner(embedder) -> Callable[[np.ndarray, list], object]:
    """The embedder's own crop step: dlib chips, ArcFace 112 crops, each part's for a fused embedder."""
    if hasattr(embedder, "chips"):
        return embedder.chips
    if hasattr(embedder, "crops"):
        return lambda pixels, faces: embedder.crops(pixels, faces) if faces else []
    if hasattr(embedder, "parts"):
        steps = [_aligner(part) for part, _ in embedder.parts]
        return lambda pixels, faces: [step(pixels, faces) for step in steps]
    return lambda pixels, faces: [align_face(pixels, f.landmarks, FACERES_INPUT) for f in faces]


class PeerRunner:
    """The ``face_recognition`` package with its defaults (HOG detector, 1 upsample, 5-point landmarks)."""

    name = PEER

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def run(self, path: Path) -> Measurement:
        fr = self.fr
        image, decode = timed(lambda: fr.load_image_file(str(path)))
        locations, detect = timed(lambda: fr.face_locations(image))
        _, align = timed(lambda: fr.face_landmarks(image, locations, model="small"))
        _, embed = timed(lambda: fr.face_encodings(image, locations))
        return Measurement({"decode": decode, "detect": detect, "align": align, "embed": embed}, len(locations))


def load_peer() -> tuple[PeerRunner | None, str | None]:
    """The peer runner, or None and the reason it cannot run."""
    try:
        return PeerRunner(), None
    except ImportError as exc:
        return None, (f"face_recognition cannot be imported ({exc}); install it with "
                      "`pip install --no-deps face_recognition==1.3.0` (see bench/README.md)")


@dataclass
class RunnerStats:
    """Everything measured for one engine."""

    name: str
    samples: dict[Path, list[Measurement]] = field(default_factory=dict)

    def stage(self, stage: str) -> tuple[float, float] | None:
        values = [m.stages[stage] for ms in self.samples.values() for m in ms if stage in m.stages]
        return median_p95(values) if values else None

    def total(self) -> tuple[float, float]:
        return median_p95(m.total for ms in self.samples.values() for m in ms)

    def faces(self, image: Path) -> int:
        return self.samples[image][0].faces

    def faces_per_second(self) -> float:
        """Faces found over the time to process every image once (each image's median total)."""
        seconds = sum(float(np.median([m.total for m in ms])) for ms in self.samples.values()) / 1000.0
        return sum(self.faces(image) for image in self.samples) / seconds if seconds > 0 else float("nan")

    def to_dict(self, root: Path) -> dict[str, object]:
        stages = {s: {"median_ms": round(v[0], 2), "p95_ms": round(v[1], 2)}
                  for s in STAGES if (v := self.stage(s)) is not None}
        median, p95 = self.total()
        return {"stages": stages, "total_ms": {"median": round(median, 2), "p95": round(p95, 2)},
                "faces_per_second": round(self.faces_per_second(), 3),
                "faces": {_label(image, root): self.faces(image) for image in self.samples}}


def _label(image: Path, root: Path) -> str:
    try:
        return str(image.relative_to(root))
    except ValueError:
        return str(image)


def benchmark(runners: list, images: list[Path], repeats: int) -> list[RunnerStats]:
    """Warm up every runner on every image, then time ``repeats`` interleaved passes."""
    for runner in runners:
        for image in images:
            runner.run(image)
    stats = [RunnerStats(runner.name, {image: [] for image in images}) for runner in runners]
    for _ in range(repeats):
        for runner, record in zip(runners, stats, strict=True):
            for image in images:
                record.samples[image].append(runner.run(image))
    return stats


def _ms(pair: tuple[float, float] | None) -> str:
    return "-" if pair is None else f"{pair[0]:.1f} / {pair[1]:.1f}"


def speed_table(stats: list[RunnerStats]) -> str:
    """Markdown: one row per engine, stage latencies (median / p95 ms per image) and ratios to the peer."""
    peer = next((s for s in stats if s.name == PEER), None)
    rows = []
    for s in stats:
        total = s.total()
        if peer is None or s is peer:
            time_ratio = fps_ratio = "-"
        else:
            time_ratio = f"{peer.total()[0] / total[0]:.2f}x"
            fps_ratio = f"{s.faces_per_second() / peer.faces_per_second():.2f}x"
        rows.append([s.name, *(_ms(s.stage(stage)) for stage in STAGES), _ms(total),
                     str(sum(s.faces(i) for i in s.samples)), f"{s.faces_per_second():.2f}", time_ratio, fps_ratio])
    return markdown_table(
        ["engine", "decode", "detect", "quality", "align (in embed)", "embed", "total / image", "faces found",
         "faces/s", "peer time / ours", "ours faces/s / peer"],
        rows,
    )


def faces_table(stats: list[RunnerStats], images: list[Path], root: Path) -> str:
    """Markdown: faces found in each image by each engine."""
    return markdown_table(["image", *(s.name for s in stats)],
                          [[_label(image, root), *(str(s.faces(image)) for s in stats)] for image in images])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over all images (default 3)")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"comma-separated (default {DEFAULT_BACKENDS})")
    parser.add_argument("--images", type=Path, default=None, help="image folder (default: faces-small)")
    parser.add_argument("--limit", type=int, default=None, help="N images spread over the folder's sorted list")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads per session (default: auto)")
    parser.add_argument("--no-peer", action="store_true", help="skip face_recognition")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    try:
        if args.repeats < 1:
            raise ConfigError("--repeats must be at least 1")
        root = args.images or faces_small_dir()
        images = list_images(root)
        if args.limit and len(images) > args.limit:
            images = images[:: len(images) // args.limit][: args.limit]
        if not images:
            raise ConfigError(f"{root}: no images found", code="not_found")
        runners: list = [SightlineRunner(b.strip(), args.threads) for b in args.backends.split(",") if b.strip()]
        peer, peer_error = (None, "skipped (--no-peer)") if args.no_peer else load_peer()
        if peer is not None:
            runners.append(peer)
        stats = benchmark(runners, images, args.repeats)
    except SightlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps({"machine": machine_summary(), "images": len(images), "repeats": args.repeats,
                          "peer_error": peer_error, "runners": {s.name: s.to_dict(root) for s in stats}}, indent=2))
        return 0
    print(f"**Face pipeline latency: {len(images)} images in {root}, {args.repeats} timed repeats after a warm-up; "
          f"ms per image, median / p95.**\n\n- machine: {machine_summary()}")
    if peer_error:
        print(f"- peer: {peer_error}")
    print()
    print(speed_table(stats))
    print("\n`align` is timed alone for the breakdown and is not added to the total: both engines' embed call "
          "aligns again (dlib 5-point landmarks + 150x150 chip; ONNX embedders: ArcFace 112x112 or 224x224 warp). "
          "`quality` is Sightline's face-quality scoring, part of `FaceEngine.detect`; the peer has none. "
          "face_recognition "
          "runs HOG on the full image upsampled once; Sightline's `dlib` backend caps the long side at 1280 px "
          "and upsamples only below 800 px. faces/s = faces found / sum of per-image median totals.\n")
    print(faces_table(stats, images, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
