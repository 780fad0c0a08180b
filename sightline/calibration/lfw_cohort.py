"""Which LFW view-1 images form the cohort, and which are left for measuring impostor curves.

View 1 (``pairsDevTrain.txt``) people are split in two by a stable hash of their name: the cohort
half gives one face per person to the cohort; the other half is used to measure the shipped
impostor curves (``bench/open_set.py``). View-2 people are never used for either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sightline.errors import ConfigError


def view1_people(pairs_file: Path) -> dict[str, list[int]]:
    """Every person named in an LFW pairs file with the image numbers it names, in file order."""
    if not pairs_file.is_file():
        raise ConfigError(f"{pairs_file}: LFW pairs file not found", code="not_found")
    people: dict[str, list[int]] = {}
    for line in pairs_file.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3:
            entries = [(parts[0], parts[1]), (parts[0], parts[2])]
        elif len(parts) == 4:
            entries = [(parts[0], parts[1]), (parts[2], parts[3])]
        else:
            continue
        for name, number in entries:
            numbers = people.setdefault(name, [])
            if number.isdigit() and int(number) not in numbers:
                numbers.append(int(number))
    return people


def in_cohort_half(name: str) -> bool:
    """True for the half of view-1 people that forms the cohort."""
    return hashlib.sha256(name.encode()).digest()[0] % 2 == 0


def cohort_images(lfw_dir: Path) -> list[Path]:
    """One image per cohort-half person of ``pairsDevTrain.txt`` (``lfw_dir`` holds ``images/`` and the file)."""
    images = lfw_dir / "images" if (lfw_dir / "images").is_dir() else lfw_dir
    pairs = lfw_dir / "pairsDevTrain.txt"
    if not pairs.is_file():
        pairs = lfw_dir.parent / "pairsDevTrain.txt"
    people = view1_people(pairs)
    return [images / name / f"{name}_{numbers[0]:04d}.jpg"
            for name, numbers in sorted(people.items()) if in_cohort_half(name) and numbers]
