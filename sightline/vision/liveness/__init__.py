"""Liveness primitives: presentation-attack detection (MiniFASNet), eye openness and head pose for challenges."""
