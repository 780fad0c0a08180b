"""Video files, live streams and reconnection, on the real clip and real servers.

Live streams: an RTSP server (GStreamer's, see rtsp_test_server.py) and an HTTP
MPEG-TS server (ffmpeg ``-listen 1``), both on 127.0.0.1 and started per test.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import av
import pytest
from live_servers import LiveServer, free_port

from sightline.errors import ConfigError, SightlineError, VideoError
from sightline.video.reconnect import Backoff, ReconnectingSource, StreamStatus
from sightline.video.sources import FpsSampler, FrameSource, StreamError, is_live, normalise_source


def remux(src: Path, dst: Path, **options: str) -> Path:
    """Copy the video packets of ``src`` into a new container (no re-encoding)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options=options) as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is not None:
                packet.stream = out_stream
                out.mux(packet)
    return dst


# --- files -------------------------------------------------------------------------------------


def test_clip_decodes_every_frame_in_order(clip):
    src = FrameSource(clip)
    frames = list(src)
    assert src.info.width == 640 and src.info.height == 360 and src.info.codec == "h264"
    assert src.info.fps == pytest.approx(29.97, abs=0.01)
    assert len(frames) == src.frames_decoded == 275
    assert [f.index for f in frames] == list(range(275))
    steps = [b.pts_seconds - a.pts_seconds for a, b in zip(frames, frames[1:], strict=False)]
    assert min(steps) > 0 and max(steps) == pytest.approx(1 / 29.97, abs=1e-3)
    assert frames[0].image_bgr.shape == (360, 640, 3) and frames[0].image_bgr.dtype.name == "uint8"
    assert frames[100].image_bgr.std() > 10  # real picture, not a blank frame
    assert src.warnings == []


def test_sampling_keeps_5fps_by_timestamp_but_decodes_all(clip):
    src = FrameSource(clip, fps=5)
    frames = list(src)
    assert src.frames_decoded == 275  # everything decoded, only the output is thinned
    assert len(frames) == src.frames_emitted
    assert 44 <= len(frames) <= 47  # 9.18 s at 5 fps
    steps = [b.pts_seconds - a.pts_seconds for a, b in zip(frames, frames[1:], strict=False)]
    assert all(0.19 <= s <= 0.21 for s in steps), steps
    assert frames[1].index - frames[0].index == 6


def test_fps_sampler_resyncs_after_gaps_and_jumps():
    s = FpsSampler(2)
    kept = [t for t in (0.0, 0.1, 0.3, 0.5, 0.6, 1.0, 5.0, 5.2, 5.5, 1.0, 1.2, 1.5) if s.take(t)]
    assert kept == [0.0, 0.5, 1.0, 5.0, 5.5, 1.0, 1.5]
    assert all(FpsSampler(None).take(t) for t in (3.0, 1.0, 1.0))
    with pytest.raises(ConfigError):
        FpsSampler(0)


def test_source_kinds():
    assert normalise_source(0) == "/dev/video0" and normalise_source("2") == "/dev/video2"
    assert normalise_source("file:///srv/my%20clips/a.mp4") == "/srv/my clips/a.mp4"
    assert is_live("rtsp://cam/stream") and is_live(0) and is_live("https://x/live.m3u8")
    assert not is_live("/videos/a.mp4")
    with pytest.raises(ConfigError):
        normalise_source("  ")
    with pytest.raises(ConfigError, match="not a live stream"):
        ReconnectingSource("/videos/a.mp4")
    with pytest.raises(StreamError, match="/dev/video9"):
        FrameSource(9, timeout_s=1).open()  # no such webcam


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda clip: os.urandom(64_000), id="garbage"),
        pytest.param(lambda clip: b"", id="empty"),
        pytest.param(lambda clip: clip.read_bytes()[: clip.stat().st_size // 2], id="truncated-moov-at-end"),
    ],
)
def test_unreadable_files_raise_video_error(clip, tmp_path, make):
    path = tmp_path / "bad.mp4"
    path.write_bytes(make(clip))
    with pytest.raises(VideoError) as err:
        list(FrameSource(path))
    assert err.value.code == "bad_video" and err.value.exit_code == 7
    assert str(path) in str(err.value)


def test_missing_file_and_still_image(tmp_path, faces_dir):
    with pytest.raises(VideoError, match="not found"):
        FrameSource(tmp_path / "nope.mp4").open()
    with pytest.raises(VideoError, match="still image"):
        FrameSource(faces_dir / "examples" / "obama.jpg").open()


def test_unsupported_codec(clip, tmp_path):
    data = bytearray(remux(clip, tmp_path / "fs.mp4", movflags="faststart").read_bytes())
    entry = data.find(b"avc1", 40)  # the sample entry in stsd (the first hit is a brand in ftyp)
    data[entry : entry + 4] = b"zzzz"
    path = tmp_path / "unknown.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="unsupported video codec"):
        FrameSource(path).open()


def test_truncated_file_yields_decodable_frames_then_warns(clip, tmp_path):
    whole = remux(clip, tmp_path / "fs.mp4", movflags="faststart").read_bytes()
    path = tmp_path / "half.mp4"
    path.write_bytes(whole[: len(whole) // 2])
    src = FrameSource(path)
    frames = list(src)
    assert 100 < len(frames) < 200
    assert any("truncated" in w for w in src.warnings), src.warnings


def test_corrupt_middle_skips_damaged_packets_and_recovers(clip, tmp_path):
    whole = remux(clip, tmp_path / "fs.mp4", movflags="faststart").read_bytes()
    third = len(whole) // 3
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(whole[:third] + os.urandom(third) + whole[2 * third :])
    src = FrameSource(path)
    frames = list(src)
    assert src.decode_errors > 0 and any("damaged" in w for w in src.warnings)
    assert frames[-1].pts_seconds > 8.5  # decoding resumed after the damage, up to the end
    assert len(frames) < 275


# --- live servers --------------------------------------------------------------------------------


def run_in_thread(source: ReconnectingSource, frames: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: frames.extend(source), daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_rtsp_frames_flow_and_stop_is_prompt(rtsp_server):
    events = []
    src = ReconnectingSource(f"rtsp://127.0.0.1:{rtsp_server.port}/live", fps=5, on_status=events.append)
    frames: list = []
    thread = run_in_thread(src, frames)
    wait_for(lambda: len(frames) >= 8, 15, "8 frames")
    t0 = time.monotonic()
    src.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - t0 < 1.0
    assert [e.status for e in events] == [StreamStatus.CONNECTING, StreamStatus.CONNECTED, StreamStatus.STOPPED]
    assert src.status is StreamStatus.STOPPED and src.connections == 1
    assert frames[0].image_bgr.shape == (360, 640, 3)
    steps = [b.pts_seconds - a.pts_seconds for a, b in zip(frames[1:], frames[2:], strict=False)]
    assert all(0.15 <= s <= 0.25 for s in steps), steps


def test_closed_port_reconnects_with_backoff_then_fails():
    url = f"rtsp://127.0.0.1:{free_port()}/live"
    with pytest.raises(StreamError) as err:
        FrameSource(url, timeout_s=2).open()
    assert err.value.code == "stream_error" and isinstance(err.value, SightlineError)
    seen = []
    src = ReconnectingSource(url, timeout_s=2, backoff=Backoff(0.1, 2, 0.4, max_attempts=5), on_status=seen.append)
    t0 = time.monotonic()
    assert list(src) == []
    elapsed = time.monotonic() - t0
    statuses = [e.status for e in src.events]
    assert statuses == [StreamStatus.CONNECTING] + [StreamStatus.RECONNECTING] * 4 + [StreamStatus.FAILED]
    assert [e.retry_in_s for e in list(src.events)[1:5]] == [0.1, 0.2, 0.4, 0.4]  # doubling, capped
    assert 1.1 <= elapsed < 5
    assert "refused" in src.last_error.lower() and src.status is StreamStatus.FAILED
    assert seen == list(src.events)


def test_passwords_in_urls_never_reach_messages_or_logs(caplog):
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/live"
    with pytest.raises(StreamError) as err:
        FrameSource(url, timeout_s=2).open()
    assert "admin:***@127.0.0.1" in str(err.value) and "hunter2" not in str(err.value)
    caplog.set_level("INFO")
    src = ReconnectingSource(url, timeout_s=2, backoff=Backoff(0.05, max_attempts=2))
    list(src)
    assert "hunter2" not in caplog.text and "hunter2" not in repr(src.events)
    assert "refused" in src.last_error.lower()


def test_stop_during_backoff_wait():
    src = ReconnectingSource(f"rtsp://127.0.0.1:{free_port()}/live", backoff=Backoff(initial_s=30, max_s=60))
    threading.Timer(0.5, src.stop).start()
    t0 = time.monotonic()
    assert list(src) == []
    assert time.monotonic() - t0 < 2.5
    assert src.status is StreamStatus.STOPPED


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word (a hung camera)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("url", ["rtsp://127.0.0.1:{port}/live", "http://127.0.0.1:{port}/live.ts"])
def test_silent_server_times_out(silent_server, url):
    t0 = time.monotonic()
    with pytest.raises(StreamError, match="no answer .* within 1 s"):
        FrameSource(url.format(port=silent_server), timeout_s=1).open()
    assert time.monotonic() - t0 < 3


def test_stalled_stream_times_out_and_recovers(rtsp_server):
    src = ReconnectingSource(
        f"rtsp://127.0.0.1:{rtsp_server.port}/live", fps=5, timeout_s=1, backoff=Backoff(0.2, 2, 0.5)
    )
    frames: list = []
    thread = run_in_thread(src, frames)
    try:
        wait_for(lambda: len(frames) >= 3, 15, "first frames")
        rtsp_server.proc.send_signal(signal.SIGSTOP)  # the server hangs mid-stream
        t0 = time.monotonic()
        wait_for(lambda: src.status is StreamStatus.RECONNECTING, 5, "reconnecting after the read timeout")
        assert 0.8 <= time.monotonic() - t0 < 3
        assert "stalled" in src.last_error
        rtsp_server.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: src.connections == 2, 20, "a new connection")
    finally:
        rtsp_server.proc.send_signal(signal.SIGCONT)
        src.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_stream_drop_reconnects_when_server_returns(rtsp_server):
    src = ReconnectingSource(
        f"rtsp://127.0.0.1:{rtsp_server.port}/live", fps=5, timeout_s=3, backoff=Backoff(0.2, 2, 0.5)
    )
    frames: list = []
    thread = run_in_thread(src, frames)
    try:
        wait_for(lambda: len(frames) >= 5, 15, "first frames")
        rtsp_server.kill()
        wait_for(lambda: src.status is StreamStatus.RECONNECTING, 10, "reconnecting status")
        before = len(frames)
        time.sleep(1.0)  # a few refused retries while the server is down
        assert len(frames) == before
        rtsp_server.start()
        wait_for(lambda: src.connections == 2 and len(frames) >= before + 5, 20, "frames after reconnect")
    finally:
        src.stop()
        thread.join(10)
    assert not thread.is_alive()
    statuses = [e.status for e in src.events]
    first_drop = statuses.index(StreamStatus.RECONNECTING)
    assert statuses[:2] == [StreamStatus.CONNECTING, StreamStatus.CONNECTED]
    assert StreamStatus.CONNECTED in statuses[first_drop:] and statuses[-1] is StreamStatus.STOPPED
    assert any("refused" in (e.error or "").lower() for e in src.events)
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))  # still counting up across the reconnection


@pytest.mark.usefixtures("ffmpeg_installed")  # conftest.require_service: fails in CI, else skips
def test_http_mpegts_stream_from_ffmpeg(clip):
    port = free_port()
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", str(clip), "-an", "-c", "copy",
            "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/live.ts"]  # fmt: skip
    server = LiveServer(argv, port)
    try:
        server.start()
        src = FrameSource(f"http://127.0.0.1:{port}/live.ts", fps=5, timeout_s=5)
        frames = []
        for frame in src:
            frames.append(frame)
            if len(frames) == 5:
                break
        assert src.live and src.info.codec == "h264"
        assert [f.index for f in frames] == [0, 6, 12, 18, 24]
    finally:
        server.kill()
