"""Real footage for the checkout tests, cut with ffmpeg from faces-small (nothing synthetic).

- ``live``: 3.62-7.82 s of ``short_hamilton_clip.mp4``: Lin-Manuel Miranda alone, looking at the camera,
  turning his head to his right (yaw about -0.5) and back: a live attempt at the challenge ``turn_right``.
- ``mirrored``: the same clip flipped left-right: he turns to his *left* (the wrong movement).
- ``still``: ``lin-manuel-miranda.png`` (the enrolment photo itself) looped as a 4 s video: a photo attack.
- ``y4m``: any of them as raw YUV4MPEG for Chromium's fake camera.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from api_support import EXAMPLES
from conftest import require_service

LIVE_START_S, LIVE_LENGTH_S = 3.62, 4.2
CHALLENGE = "turn_right"  # what the live clip performs (the servers under test fix this challenge)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


def build_clips(folder: Path) -> dict[str, Path]:
    """The three mp4 clips (built once into ``folder``)."""
    require_service(shutil.which("ffmpeg") is not None, "ffmpeg", "apt-get install ffmpeg")
    out = {name: folder / f"{name}.mp4" for name in ("live", "mirrored", "still")}
    h264 = ["-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    if not out["live"].exists():
        _ffmpeg("-ss", str(LIVE_START_S), "-t", str(LIVE_LENGTH_S), "-i", str(EXAMPLES / "short_hamilton_clip.mp4"),
                *h264, str(out["live"]))
    if not out["mirrored"].exists():
        _ffmpeg("-i", str(out["live"]), "-vf", "hflip", *h264, str(out["mirrored"]))
    if not out["still"].exists():
        _ffmpeg("-loop", "1", "-t", "4", "-framerate", "15", "-i", str(EXAMPLES / "lin-manuel-miranda.png"),
                "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", *h264, str(out["still"]))
    return out


def to_y4m(clip: Path, out: Path, *, fps: int = 15, size: str = "640x360") -> Path:
    """A raw YUV4MPEG copy for ``--use-file-for-fake-video-capture`` (Chromium loops it)."""
    if not out.exists():
        _ffmpeg("-i", str(clip), "-vf", f"fps={fps},scale={size}:force_original_aspect_ratio=decrease,"
                f"pad={size.replace('x', ':')}:(ow-iw)/2:(oh-ih)/2", "-pix_fmt", "yuv420p", str(out))
    return out


def jpeg_frames(clip: Path, folder: Path, fps: float = 4.0) -> list[bytes]:
    """The clip's frames at ``fps`` as JPEG bytes, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-i", str(clip), "-vf", f"fps={fps}", "-q:v", "3", str(folder / "f_%03d.jpg"))
    return [p.read_bytes() for p in sorted(folder.glob("f_*.jpg"))]
