"""Video input, motion gating and multi-object tracking.

- :class:`FrameSource`: frames from a file, stream or webcam (PyAV), sampled to a target fps.
- :class:`ReconnectingSource`: a live source that survives network trouble (backoff, status).
- :class:`MotionGate`: cheap per-frame motion check to skip detection on still frames.
- :class:`ByteTracker`: ByteTrack-style multi-object tracker over detector boxes.
"""

from sightline.video.motion import MotionConfig, MotionGate, MotionResult
from sightline.video.reconnect import Backoff, ReconnectingSource, StatusEvent, StreamStatus
from sightline.video.sources import Frame, FrameSource, StreamError, VideoInfo
from sightline.video.tracker import ByteTracker, Track, TrackerConfig, TrackState

__all__ = [
    "Backoff",
    "ByteTracker",
    "Frame",
    "FrameSource",
    "MotionConfig",
    "MotionGate",
    "MotionResult",
    "ReconnectingSource",
    "StatusEvent",
    "StreamError",
    "StreamStatus",
    "Track",
    "TrackState",
    "TrackerConfig",
    "VideoInfo",
]
