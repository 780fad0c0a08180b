"""Pure computer-vision building blocks: images in, numpy results out. No I/O besides decoding."""
