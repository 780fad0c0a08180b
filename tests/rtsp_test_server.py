"""A real RTSP server for the video tests: GStreamer's RTSP server streaming one MP4 file.

Runs under the system Python (Debian's python3-gi and gir1.2-gst-rtsp-server-1.0),
not the project venv: ``/usr/bin/python3 tests/rtsp_test_server.py CLIP PORT``.
Serves ``rtsp://127.0.0.1:PORT/live`` (H.264 over RTP, TCP or UDP transport); every
client gets the clip from its start, in real time. Prints ``ready`` once listening.
(ffmpeg itself can only push to an RTSP server or receive a push, not serve clients.)
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    clip, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
