"""ONNX face embedders on the ArcFace 112x112 5-point template, and a score-fused pair of embedders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sightline.vision.faces.align import align_face
from sightline.vision.faces.embedders import FaceEmbedder, l2_normalise
from sightline.vision.faces.types import Face


@dataclass(frozen=True)
class ArcFaceInput:
    """How an ArcFace-template network is fed: RGB crop of ``size``, ``(x - mean) / std``, NCHW."""

    size: int = 112
    mean: float = 0.0
    std: float = 1.0


class ArcFaceOnnxEmbedder:
    """An ONNX embedder fed ArcFace-aligned RGB crops (NCHW).

    With ``flip`` the crop and its mirror image are both embedded and their
    embeddings summed (flip test-time augmentation), then L2-normalised.
    """

    def __init__(self, session, name: str, *, spec: ArcFaceInput = ArcFaceInput(), flip: bool = False) -> None:
        # ``session``: an onnxruntime session opened by ``sightline.models`` (hash-checked file).
        self._session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self.name = name
        self.spec = spec
        self.flip = flip
        self.dim = int(session.get_outputs()[0].shape[-1])

    def crops(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Aligned RGB crops of ``faces`` as a float32 NCHW batch, normalised for the network."""
        rgb = np.stack([align_face(image, face.landmarks, self.spec.size)[:, :, ::-1] for face in faces])
        batch = (rgb.astype(np.float32) - self.spec.mean) / self.spec.std
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        # Some exports fix the batch dimension at 1: run one crop at a time then.
        fixed = self._session.get_inputs()[0].shape[0]
        if isinstance(fixed, int) and fixed == 1 and len(batch) > 1:
            return np.concatenate([self._run(batch[i:i + 1]) for i in range(len(batch))])
        (features,) = self._session.run([self._output], {self._input: batch})
        return np.asarray(features, dtype=np.float32).reshape(len(batch), -1)

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """L2-normalised embeddings of ``faces`` in ``image`` (uint8 BGR), shape (len(faces), dim)."""
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.crops(image, faces)
        if not self.flip:
            return l2_normalise(self._run(batch))
        both = self._run(np.concatenate([batch, batch[:, :, :, ::-1]]))
        n = len(faces)
        return l2_normalise(l2_normalise(both[:n]) + l2_normalise(both[n:]))


@dataclass(frozen=True)
class FusionPart:
    """One embedder's share of a fused score: weight and the impostor statistics that z-normalise it."""

    weight: float
    impostor_mean: float
    impostor_std: float


class FusedEmbedder:
    """Concatenates the unit embeddings of several embedders so one cosine is their fused score.

    Each part's cosine ``s_i`` is z-normalised by its impostor statistics and
    weighted: ``f = sum(w_i * (s_i - m_i) / d_i)``. Scaling part ``i`` by
    ``sqrt(w_i / d_i)`` before concatenating makes the cosine of two fused
    vectors ``(sum(w_i * s_i / d_i)) / sum(w_i / d_i)``, an increasing affine
    function of ``f``; so a gallery (inner product, FAISS) and a cosine threshold
    work on fused templates unchanged. :meth:`fused_score` maps a cosine back to ``f``.
    """

    def __init__(self, parts: Sequence[tuple[FaceEmbedder, FusionPart]], name: str) -> None:
        self.parts = list(parts)
        self.name = name
        self.dim = sum(embedder.dim for embedder, _ in self.parts)
        self._scale = np.array([np.sqrt(p.weight / p.impostor_std) for _, p in self.parts], dtype=np.float64)
        self._total = float((self._scale**2).sum())

    def combine(self, vectors: Sequence[np.ndarray]) -> np.ndarray:
        """Fused unit vectors from each part's unit embeddings (rows aligned)."""
        scaled = [np.asarray(v, np.float32) * np.float32(s) for v, s in zip(vectors, self._scale, strict=True)]
        return l2_normalise(np.concatenate(scaled, axis=1))

    def fused_score(self, cosine: float | np.ndarray) -> float | np.ndarray:
        """The z-normalised weighted score ``f`` that a fused-vector cosine stands for."""
        offset = sum(p.weight * p.impostor_mean / p.impostor_std for _, p in self.parts)
        return np.asarray(cosine) * self._total - offset

    def cosine_for(self, fused: float) -> float:
        """The fused-vector cosine equal to the fused score ``fused`` (inverse of :meth:`fused_score`)."""
        offset = sum(p.weight * p.impostor_mean / p.impostor_std for _, p in self.parts)
        return float((fused + offset) / self._total)

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Fused, L2-normalised embeddings of ``faces``, shape (len(faces), dim)."""
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.combine([embedder.embed(image, faces) for embedder, _ in self.parts])
