"""Plate text normalisation and per-region format rules.

A read is normalised (upper case, spaces, dashes and other separators
removed), then matched against the region's national formats, written as
``L`` (letter) and ``D`` (digit). Where a position's class disagrees with the
format, the usual confusions (O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) are
resolved towards the format, and one spurious character (a country band
letter, a registration sticker read as a character) may be dropped. Each edit
costs confidence, so a read that already fits a format wins over one that
must be bent into shape. Reads that fit no format are kept as read (vanity
plates exist) with their confidence lowered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sightline.vision.plates.ocr import TextRead

# National formats without separators; sources: the countries' published registration schemes.
FORMATS: dict[str, dict[str, str]] = {
    "eu": {
        "LLDDDLL": "SK/FR/IT/HR: AB 123 CD",
        "DLDDDDD": "CZ: 1A2 3456",
        "DLLDDDD": "CZ: 1AB 2345",
        "LLLDDDD": "SK (old) / PL: ABC 1234",
        "LLDDLLL": "UK: AB12 CDE",
        "DDDDLLL": "ES: 1234 BCD",
        "LLDDDDD": "PL: AB 12345",
        "LLLDDLL": "PL: ABC 12DE",
        "LDDDDDD": "PL/AT: A 123456",
        "LLDDLL": "NL: AB 12 CD",
        "DDLLLD": "NL: 12 ABC 3",
        "DLLLDD": "NL: 1 ABC 23",
        "LLDDDL": "NL/DE: AB 123 C",
        "DLLLDDD": "BE: 1 ABC 234",
    },
    "us": {
        "DLLLDDD": "CA: 1ABC234",
        "LLLDDDD": "NY/PA/TX/...: ABC 1234",
        "LLLDDD": "ABC 123",
        "DDDLLL": "123 ABC",
        "LLDLDL": "AB1 C2D",
        "DDLDLL": "12A B3C",
        "DDDDDLD": "12345A1",
        "LDDDDDD": "A 123456",
        "DLLDDDD": "1AB 2345",
        "DLDDDDD": "1A2 3456",
    },
}
REGIONS = tuple(FORMATS)

LETTER_FOR_DIGIT = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "7": "T"}
DIGIT_FOR_LETTER = {"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6", "D": "0", "Q": "0", "A": "4",
                    "T": "7", "L": "1"}
SWAP_UNSURE = 0.8  # score of a confusable swap when the recogniser was unsure of the character it read ...
SWAP_SURE = 0.2  # ... and when it was sure; in between, linear in its probability
# O/0 and I/1 are drawn alike on many plates, so the recogniser's certainty between them means little:
# such a swap keeps most of the read character's probability.
GLYPH_TWINS = frozenset({("0", "O"), ("O", "0"), ("1", "I"), ("I", "1")})
TWIN_COST = 0.9
DROP_COST = 0.25  # one character dropped to fit the format
NO_FORMAT_COST = 0.3  # the read fits no known format of its region
_SEPARATORS = re.compile(r"[^0-9A-Z]")


def normalise(text: str) -> str:
    """Upper case, separators and anything outside A-Z/0-9 removed (``"ab-12 cd"`` -> ``"AB12CD"``)."""
    return _SEPARATORS.sub("", text.upper())


@dataclass(frozen=True)
class FormattedRead:
    """A read after the format rules: text, confidence, the matched format (or None) and the edits made."""

    text: str
    confidence: float
    format: str | None
    edits: int


def _position_options(symbol: str, prob: float, alternatives: dict[str, float], kind: str) -> tuple[str, float] | None:
    """Best symbol for one position given its class (``L`` or ``D``), with the cost of changing it."""
    wanted = str.isalpha if kind == "L" else str.isdigit
    if wanted(symbol):
        return symbol, prob
    best: tuple[str, float] | None = None
    for alt, alt_prob in alternatives.items():
        if wanted(alt) and (best is None or alt_prob > best[1]):
            best = (alt, alt_prob)
    swap = (LETTER_FOR_DIGIT if kind == "L" else DIGIT_FOR_LETTER).get(symbol)
    twin = (symbol, swap) in GLYPH_TWINS
    swap_score = TWIN_COST * prob if twin else SWAP_UNSURE * (1.0 - prob) + SWAP_SURE * prob
    if swap is not None and (best is None or swap_score > best[1]):
        best = (swap, swap_score)
    return best


def _fit(symbols: list[str], probs: list[float], alts: list[dict[str, float]],
         pattern: str) -> tuple[str, list[float], int] | None:
    chosen, scores, edits = [], [], 0
    for symbol, prob, alt, kind in zip(symbols, probs, alts, pattern, strict=True):
        option = _position_options(symbol, prob, alt, kind)
        if option is None:
            return None
        chosen.append(option[0])
        scores.append(option[1])
        edits += option[0] != symbol
    return "".join(chosen), scores, edits


def apply_format(read: TextRead, region: str) -> FormattedRead:
    """The most probable text that fits one of ``region``'s formats (see the module docstring)."""
    if region not in FORMATS:
        raise ValueError(f"unknown plate region {region!r}; choose one of {', '.join(REGIONS)}")
    symbols, probs = list(read.text), list(read.char_probs)
    alts = list(read.alternatives) or [{} for _ in symbols]
    if not symbols:
        return FormattedRead("", 0.0, None, 0)
    best: tuple[float, FormattedRead] | None = None
    variants = [(symbols, probs, alts, 1.0)]
    if len(symbols) > 4:
        for i in range(len(symbols)):
            keep = [j for j in range(len(symbols)) if j != i]
            variants.append(([symbols[j] for j in keep], [probs[j] for j in keep], [alts[j] for j in keep], DROP_COST))
    for var_symbols, var_probs, var_alts, cost in variants:
        for pattern in FORMATS[region]:
            if len(pattern) != len(var_symbols):
                continue
            fitted = _fit(var_symbols, var_probs, var_alts, pattern)
            if fitted is None:
                continue
            text, scores, edits = fitted
            score = float(_product(scores)) * cost
            if best is None or score > best[0]:
                drops = int(cost != 1.0)
                best = (score, FormattedRead(text, min(scores) * cost, pattern, edits + drops))
    raw_score = float(_product(probs)) * NO_FORMAT_COST
    if best is not None and best[0] >= raw_score:
        return best[1]
    return FormattedRead(read.text, read.confidence * NO_FORMAT_COST, None, 0)


def _product(values: list[float]) -> float:
    result = 1.0
    for value in values:
        result *= value
    return result
