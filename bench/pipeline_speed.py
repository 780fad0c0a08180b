"""Camera pipeline throughput on the real clip at 720p and 1080p, with and without the motion gate.

    python bench/pipeline_speed.py [--fps 5] [--threads 1] [--json]

The Hamilton clip (640x360) is upscaled once to 720p and 1080p H.264 files, then
each runs through the full pipeline (decode at --fps, motion gate, NanoDet/
CenterNet objects, tracker, YuNet faces, dlib embeddings, gallery search with
Lin-Manuel Miranda enrolled, events into SQLite). A "still" row feeds 10 s of one
repeated frame, the case the motion gate is for. ``--threads N`` limits every
thread pool in the process to N: OpenCV (``cv2.setNumThreads``), the object
detector's onnxruntime session, FAISS (``omp_set_num_threads``) and every BLAS
and OpenMP runtime loaded (OpenBLAS under numpy/scipy/dlib, libgomp; with
threadpoolctl); the header lists each pool and its thread count as read back.
With ``--threads 1`` "cameras per core" = 1000 / (ms per analysed frame x fps):
how many cameras at that rate one core keeps up with.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import faces_small_dir, machine_summary, markdown_table  # noqa: E402

from sightline import FaceEngine  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402
from sightline.video.motion import MotionConfig  # noqa: E402
from sightline.video.pipeline import STAGES  # noqa: E402
from sightline.video.runner import build_pipeline  # noqa: E402
from sightline.video.sources import FrameSource  # noqa: E402
from sightline.video.writer import VideoWriter  # noqa: E402


def make_inputs(clip: Path, folder: Path) -> dict[str, Path]:
    """720p and 1080p upscales of the clip, plus a still scene, as H.264 files."""
    frames = [f.image_bgr for f in FrameSource(clip)]
    fps = FrameSource(clip).open().info.fps or 30.0
    out = {}
    for name, size in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        out[name] = folder / f"clip-{name}.mp4"
        with VideoWriter(out[name], fps) as writer:
            for frame in frames:
                writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
    out["720p still"] = folder / "still-720p.mp4"
    still = cv2.resize(frames[100], (1280, 720), interpolation=cv2.INTER_CUBIC)
    with VideoWriter(out["720p still"], fps) as writer:
        for _ in range(int(fps * 10)):
            writer.write(still)
    return out


def pin_threads(threads: int) -> list[str]:
    """Limit OpenCV, FAISS and every loaded BLAS/OpenMP pool to ``threads``; 'library=n' as read back."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from sightline.gallery.index import set_threads

    cv2.setNumThreads(threads)
    set_threads(threads)
    threadpool_limits(limits=threads)  # stays in force for the process (not used as a context manager)
    pools = [f"{Path(p['filepath']).name.split('-')[0]}={p['num_threads']}" for p in threadpool_info()]
    return [f"opencv={cv2.getNumThreads()}", *pools]


def run_once(video: Path, gallery: Gallery, engine: FaceEngine, *, fps: float, motion: bool,
             threads: int | None) -> dict[str, object]:
    pipeline = build_pipeline("bench", gallery=gallery, face_engine=engine, motion=MotionConfig() if motion else None,
                              detector_threads=threads)
    source = FrameSource(video, fps=fps).open()
    decode_ms = 0.0
    started = time.perf_counter()
    iterator = iter(source)
    while True:
        t0 = time.perf_counter()
        frame = next(iterator, None)
        decode_ms += (time.perf_counter() - t0) * 1000
        if frame is None:
            break
        pipeline.process(frame)
    pipeline.finish()
    wall = time.perf_counter() - started
    stats = pipeline.stats()
    frames = stats["frames"]
    stages = dict(stats["stage_ms_per_frame"])
    stages["decode"] = round(decode_ms / max(frames, 1), 2)
    per_frame = wall * 1000 / max(frames, 1)
    return {"frames": frames, "skipped": stats["skipped_fraction"], "wall_s": round(wall, 2),
            "ms_per_frame": round(per_frame, 1), "analysed_fps": round(frames / wall, 1),
            "cameras_at_fps": round(1000 / (per_frame * fps), 2), "stages": stages,
            "person_seen": stats["events"].get("person_seen", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None, help="Threads per library (1 = one core).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clip = faces_small_dir() / "examples/short_hamilton_clip.mp4"
    engine = FaceEngine().load()
    pools = pin_threads(args.threads) if args.threads else ["default"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(clip, Path(tmp))
        with Gallery.open(Path(tmp) / "home", engine=engine) as gallery:
            subject = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent", purpose="benchmark",
                                             evidence="bench", retain_until=datetime.now(UTC) + timedelta(days=1))
            gallery.enroll(subject["id"], [faces_small_dir() / "examples/lin-manuel-miranda.png"])
            for name, video in inputs.items():
                for motion in (False, True):
                    result = run_once(video, gallery, engine, fps=args.fps, motion=motion, threads=args.threads)
                    rows.append({"input": name, "motion_gate": motion, **result})
    if args.json:
        print(json.dumps({"thread_pools": pools, "rows": rows}, indent=2))
        return
    print(f"{machine_summary()}; analysing at {args.fps:g} fps; threads per library: {args.threads or 'default'} "
          f"(onnxruntime={args.threads or 'default'}, {', '.join(pools)})\n")
    headers = ["input", "motion gate", "frames", "skipped", "ms/frame", "analysed fps", f"cameras @ {args.fps:g} fps",
               *[f"{s} ms" for s in STAGES]]
    table = [[r["input"], "on" if r["motion_gate"] else "off", r["frames"], f"{r['skipped']:.0%}", r["ms_per_frame"],
              r["analysed_fps"], r["cameras_at_fps"], *[r["stages"].get(s, 0.0) for s in STAGES]] for r in rows]
    print(markdown_table(headers, table))


if __name__ == "__main__":
    main()
