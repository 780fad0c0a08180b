"""Constant-velocity Kalman filter for boxes, state (cx, cy, aspect, height) plus their velocities.

Noise scales with the box height, as in SORT/DeepSORT/ByteTrack, so that large
(near) and small (far) objects are tracked equally well.
"""

from __future__ import annotations

import numpy as np

POS_WEIGHT = 1.0 / 20
VEL_WEIGHT = 1.0 / 160

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # x += v (one frame per step)
_H = np.eye(4, 8)


def xyxy_to_xyah(box: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (centre x, centre y, width / height, height)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
    return np.array([x1 + w / 2, y1 + h / 2, w / h, h])


def xyah_to_xyxy(state: np.ndarray) -> np.ndarray:
    """Inverse of :func:`xyxy_to_xyah` (accepts the full 8-value state too)."""
    cx, cy, a, h = state[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class BoxKalman:
    """Kalman state of one box: ``mean`` (8,) and ``cov`` (8, 8)."""

    def __init__(self, box_xyxy: np.ndarray) -> None:
        z = xyxy_to_xyah(box_xyxy)
        h = z[3]
        self.mean = np.concatenate([z, np.zeros(4)])
        std = [2 * POS_WEIGHT * h, 2 * POS_WEIGHT * h, 1e-2, 2 * POS_WEIGHT * h,
               10 * VEL_WEIGHT * h, 10 * VEL_WEIGHT * h, 1e-5, 10 * VEL_WEIGHT * h]  # fmt: skip
        self.cov = np.diag(np.square(std))

    def predict(self, freeze_height: bool = False) -> None:
        """Advance one frame; ``freeze_height`` stops the height drifting while the object is unseen."""
        if freeze_height:
            self.mean[7] = 0.0
        h = self.mean[3]
        std = [POS_WEIGHT * h, POS_WEIGHT * h, 1e-2, POS_WEIGHT * h,
               VEL_WEIGHT * h, VEL_WEIGHT * h, 1e-5, VEL_WEIGHT * h]  # fmt: skip
        self.mean = _F @ self.mean
        self.cov = _F @ self.cov @ _F.T + np.diag(np.square(std))

    def update(self, box_xyxy: np.ndarray) -> None:
        """Correct the state with a measured box."""
        z = xyxy_to_xyah(box_xyxy)
        h = self.mean[3]
        r = np.diag(np.square([POS_WEIGHT * h, POS_WEIGHT * h, 1e-1, POS_WEIGHT * h]))
        s = _H @ self.cov @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.cov).T  # cov H^T S^-1 (S symmetric)
        self.mean = self.mean + gain @ (z - _H @ self.mean)
        self.cov = self.cov - gain @ s @ gain.T

    @property
    def box(self) -> np.ndarray:
        """Current box estimate as (x1, y1, x2, y2)."""
        return xyah_to_xyxy(self.mean)
