"""Challenge checks on real footage (Lin-Manuel Miranda in faces-small's Hamilton clip), with the real
detector and landmark models: a turn to the right read as such wherever the clip starts, the mirrored clip
read as a turn to the left, and a photo brought closer read as "move closer" (why that step is never drawn
alone)."""

from __future__ import annotations

import subprocess

import pytest
from api_support import EXAMPLES
from checkout_media import LIVE_LENGTH_S, LIVE_START_S, build_clips

from sightline.checkout import motion
from sightline.checkout.analysis import analyse
from sightline.checkout.frames import from_clip
from sightline.checkout.liveness import eye_aspect_ratio_source
from sightline.engine import FaceEngine


@pytest.fixture(scope="module")
def engine():
    return FaceEngine().load()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("motion-clips")
    out = build_clips(folder)
    late = folder / "late.mp4"  # starts 0.6 s into the performance: the head is already turning right
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(LIVE_START_S + 0.6), "-t", str(LIVE_LENGTH_S - 0.6),
                    "-i", str(EXAMPLES / "short_hamilton_clip.mp4"), "-an", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", str(late)], check=True, capture_output=True, timeout=120)
    zoom = folder / "zoom.mp4"  # the enrolment photo, small in the picture, brought closer (2x in 4 s)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-t", "4", "-framerate", "15", "-i",
                    str(EXAMPLES / "lin-manuel-miranda.png"), "-vf",
                    "scale=w='trunc(352*(1+0.25*t)/2)*2':h='trunc(306*(1+0.25*t)/2)*2':eval=frame,"
                    "pad=1408:1224:(ow-iw)/2:(oh-ih)/2:eval=frame",
                    "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(zoom)], check=True, capture_output=True,
                   timeout=120)
    return {**out, "late": late, "zoom": zoom}


def _seen(engine, path):
    found = analyse(engine, from_clip(path.read_bytes(), 0.0, 48), 1, eye_aspect_ratio_source())
    return found.motion


@pytest.mark.parametrize("clip", ["live", "late"])
def test_a_turn_to_the_right_and_back_is_one_turn_right(engine, clips, clip):
    moves = _seen(engine, clips[clip])
    passed, seen, reasons = motion.check(("turn_right",), moves)
    assert passed, (seen, reasons)  # coming back to the front is not a turn to the left
    assert not motion.check(("turn_left",), moves)[0]


def test_the_mirrored_clip_turns_left_and_a_photo_turns_nowhere(engine, clips):
    passed, _, reasons = motion.check(("turn_right",), _seen(engine, clips["mirrored"]))
    assert not passed and reasons == ["unexpected movement: turn_left"]
    still = _seen(engine, clips["still"])
    assert [name for name, _ in motion.events(still)] == []
    assert motion.check(("turn_left",), still)[2] == ["challenge not performed: no turn_left"]


def test_a_photo_brought_closer_moves_closer(engine, clips):
    passed, seen, _ = motion.check(("move_closer",), _seen(engine, clips["zoom"]))
    assert passed and seen == ["move_closer"]
