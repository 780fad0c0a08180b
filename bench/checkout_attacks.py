"""Attack part of ``bench/checkout.py``: every attack clip that can be cut from the real footage here,
judged by the real checkout pipeline against every challenge a session can draw.

Footage: ``short_hamilton_clip.mp4`` (3.62-7.82 s: Lin-Manuel Miranda alone, turning his head to his right
and back) and ``lin-manuel-miranda.png`` (his enrolment photo). Clips:

- **live**: the performance itself and four variants (start 0.3 / 0.6 s later, played 0.9x / 1.1x speed),
  judged with the one challenge it performs (``turn_right``): live attempts;
- **stills**: the enrolment photo and a frontal frame of the clip (a screenshot), each looped, zoomed in
  (brought closer), squeezed left-right (a photo turned about its vertical axis) and panned (waved);
- **replays**: the live clip and its mirror image (which turns the other way) as recordings, against every
  challenge they did not perform; and the same recordings against the very challenge they perform.

Every (clip, challenge) pair goes through :meth:`CheckoutService.judge` (motion check, passive liveness if
installed, fused 1:1 match with the enrolment photo as template), the frames analysed once per clip.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import permutations
from pathlib import Path

from PIL import Image

FPS = 15
LIVE = (3.62, 4.2)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=300)


def _still_variants(image: Path, stem: str, out: Path) -> dict[str, Path]:
    with Image.open(image) as im:
        w, h = (v // 2 * 2 for v in im.size)
    filters = {
        "loop": f"scale={w}:{h}",
        "zoom": f"scale=w='trunc({w}*(1+0.12*t)/2)*2':h='trunc({h}*(1+0.12*t)/2)*2':eval=frame,crop={w}:{h}",
        "squeeze": f"scale=w='trunc({w}*(1-0.3*sin(PI*t/4))/2)*2':h={h}:eval=frame,pad={w}:{h}:(ow-iw)/2:0",
        "pan": f"scale={w}:{h},pad={w + 200}:{h}:100:0,crop={w}:{h}:x='100+90*sin(2*PI*t/4)':y=0",
    }
    clips = {}
    for name, vf in filters.items():
        path = out / f"{stem}-{name}.mp4"
        _ffmpeg("-loop", "1", "-t", "4", "-framerate", str(FPS), "-i", str(image), "-vf", vf, "-an", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", "-preset", "veryfast", str(path))
        clips[f"still: {stem}, {name}"] = path
    return clips


def build(footage: Path, photo: Path, out: Path) -> tuple[dict[str, Path], dict[str, Path], dict[str, Path]]:
    """(live clips, still-photo clips, recordings for replay) cut from the footage."""
    h264 = ["-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    start, length = LIVE
    live = {}
    for name, offset, speed in (("as filmed", 0.0, 1.0), ("0.3 s later", 0.3, 1.0), ("0.6 s later", 0.6, 1.0),
                                ("0.9x speed", 0.0, 0.9), ("1.1x speed", 0.0, 1.1)):
        path = out / f"live-{len(live)}.mp4"
        _ffmpeg("-ss", str(start + offset), "-t", str(length - offset), "-i", str(footage),
                "-vf", f"setpts=PTS/{speed}", *h264, str(path))
        live[f"live: {name}"] = path
    mirrored = out / "mirrored.mp4"
    _ffmpeg("-i", str(live["live: as filmed"]), "-vf", "hflip", *h264, str(mirrored))
    frame = out / "frame.png"
    _ffmpeg("-ss", "3.9", "-i", str(footage), "-frames:v", "1", str(frame))
    stills = {**_still_variants(photo, "enrolment photo", out), **_still_variants(frame, "clip frame", out)}
    replays = {"replay: recording (turns right)": live["live: as filmed"], "replay: mirrored (turns left)": mirrored}
    return live, stills, replays


def challenge_space(steps: int) -> list[tuple[str, ...]]:
    """Every challenge ``draw_steps`` can return for ``steps`` steps."""
    from sightline.checkout.challenge import _OPPOSITE
    from sightline.checkout.policy import STEPS

    return [c for c in permutations(STEPS, steps) if c != ("move_closer",)
            and not any(_OPPOSITE.get(a) == b for a, b in zip(c, c[1:], strict=False))]


@dataclass
class Judged:
    clip: str
    challenge: tuple[str, ...]
    approved: bool
    reasons: list[str]


def run(footage: Path, photo: Path, steps: int = 2, backend: str = "auto") -> tuple[
        list[Judged], list[Judged], list[Judged], list[float], list[float], bool]:
    """(live judgements, still judgements, replay judgements, analysis ms per live clip, analysis + decision ms
    per live clip, passive liveness on). Stills and replays are judged against every two-step challenge the
    default draw can give and every one-step challenge it can draw."""
    from sightline.checkout.analysis import analyse
    from sightline.checkout.frames import from_clip
    from sightline.checkout.liveness import Passive
    from sightline.checkout.policy import CheckoutPolicy
    from sightline.checkout.service import CheckoutService
    from sightline.engine import FaceEngine
    from sightline.gallery.gallery import Gallery
    from sightline.store.checkout_repo import SessionRow

    work = Path(tempfile.mkdtemp(prefix="checkout-bench-"))
    live, stills, replays = build(footage, photo, work)
    gallery = Gallery.open(work / "home", None, FaceEngine(backend))
    lin = gallery.create_subject(name="Lin-Manuel Miranda", legal_basis="consent", evidence="BENCH",
                                 purpose="checkout benchmark", retain_until=datetime.now(UTC) + timedelta(days=1))
    gallery.enroll(lin["id"], [photo])
    policy = CheckoutPolicy()
    service = CheckoutService(gallery, policy, Passive())
    now = datetime.now(UTC)

    def row(challenge: tuple[str, ...]) -> SessionRow:
        return SessionRow("bench", "n", "bench", "k", list(challenge), None, lin["id"], None, now,
                          now + timedelta(seconds=60), "open", None, [])

    def judge_clip(name: str, path: Path, challenges: list[tuple[str, ...]]) -> tuple[list[Judged], float, float]:
        frames = from_clip(path.read_bytes(), time.time(), policy.max_frames)
        started = time.perf_counter()
        found = analyse(gallery.faces, frames, policy.embed_frames, service.ear_of)
        analysed = (time.perf_counter() - started) * 1000.0
        out = []
        for challenge in challenges:
            decision = service.judge(row(challenge), frames, found)
            out.append(Judged(name, challenge, decision.approved, decision.reasons))
        return out, analysed, (time.perf_counter() - started) * 1000.0 / max(1, len(challenges))

    space = challenge_space(steps) + challenge_space(1)  # the default draw (two steps) and every one-step one
    live_j, still_j, replay_j, analysis_ms, decide_ms = [], [], [], [], []
    for name, path in live.items():
        judged, analysed, per_decision = judge_clip(name, path, [("turn_right",)])
        live_j += judged
        analysis_ms.append(analysed)
        decide_ms.append(per_decision)
    for name, path in stills.items():
        still_j += judge_clip(name, path, space)[0]
    for name, path in replays.items():
        replay_j += judge_clip(name, path, space)[0]
    gallery.close()
    return live_j, still_j, replay_j, analysis_ms, decide_ms, service.passive.available
