"""Video input, motion gating and multi-object tracking."""
