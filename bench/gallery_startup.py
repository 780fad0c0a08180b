"""Gallery start-up cost: decrypting N stored templates into the in-memory index, and bytes per template.

Fills a fresh SQLite gallery with N random unit vectors (AES-256-GCM encrypted exactly as enrolment
stores them, two templates per subject), then times ``Gallery.open`` and the index build.

    python bench/gallery_startup.py 100000
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("SIGHTLINE_MODELS", str(REPO.parent / "shared" / "models"))

from sightline.engine import FaceEngine  # noqa: E402
from sightline.gallery.gallery import Gallery  # noqa: E402
from sightline.privacy.crypto import template_aad  # noqa: E402
from sightline.store.tables import Subject, Template  # noqa: E402


def main(count: int) -> None:
    engine = FaceEngine()
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        with Gallery.open(home, None, engine) as gallery:
            started = time.perf_counter()
            with gallery.sessions.begin() as session:
                session.execute(insert(Subject), [
                    {"id": f"{i:032x}", "name": f"person {i}", "legal_basis": "contract", "purpose": "benchmark",
                     "evidence": None, "enrolled_by": "bench", "created_at": now,
                     "retain_until": now + timedelta(days=1)} for i in range((count + 1) // 2)])
                rows = []
                for number in range(1, count + 1):
                    vector = rng.standard_normal(128).astype(np.float32)
                    vector /= np.linalg.norm(vector)
                    subject_id = f"{(number - 1) // 2:032x}"
                    key_id, nonce, ciphertext = gallery.keys.encrypt(vector.tobytes(), template_aad(number, subject_id))
                    rows.append({"id": number, "subject_id": subject_id, "image_id": None, "backend": engine.backend,
                                 "embedder": engine.spec.embedder, "dim": 128, "quality": 1.0, "source": None,
                                 "key_id": key_id, "nonce": nonce, "ciphertext": ciphertext, "created_at": now})
                session.execute(insert(Template), rows)
            filled = time.perf_counter() - started
        size = (home / "sightline.db").stat().st_size
        started = time.perf_counter()
        with Gallery.open(home, None, engine) as gallery:
            opened = time.perf_counter() - started
            started = time.perf_counter()
            indexed = len(gallery.index)
            built = time.perf_counter() - started
    print(f"| {count:,} templates | fill {filled:.1f} s | open {opened:.2f} s | decrypt + index {built:.2f} s "
          f"({indexed:,}) | database {size / 1e6:.1f} MB ({size / count:.0f} B/template) |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
