"""Checkout sessions: open one (challenge, nonce, window), then one attempt decides it.

Rate limits (sessions per terminal per minute, per claimed subject per hour) and lock-outs (after
``lockout_failures`` failed attempts in a row, a terminal or subject is refused for ``lockout_s``) are
counted from the stored sessions. Every opening and every decision, refusals included, is a row in the
audit log with its reasons (no frames, no face data: frames live in memory for the one request).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from sightline.checkout import fusion, motion, payers
from sightline.checkout.analysis import Analysis, analyse
from sightline.checkout.challenge import Challenge, new_challenge
from sightline.checkout.errors import CheckoutError
from sightline.checkout.frames import TimedFrame, check_window
from sightline.checkout.liveness import Passive, eye_aspect_ratio_source
from sightline.checkout.policy import CheckoutPolicy
from sightline.errors import SightlineError
from sightline.gallery.gallery import Gallery
from sightline.gallery.matching import NEGATIVE_MARGIN
from sightline.gallery.names import check_name
from sightline.store import checkout_repo
from sightline.store.checkout_repo import OPEN, SessionRow

APPROVED, DECLINED, REFUSED, EXPIRED = "approved", "declined", "refused", "expired"
FAILED = (DECLINED, REFUSED)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Decision:
    """The answer to one attempt."""

    session_id: str
    approved: bool
    subject: dict[str, object] | None
    similarity: float | None
    liveness: dict[str, object]
    reasons: list[str]
    mode: str
    elapsed_ms: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"session": self.session_id, "approved": self.approved, "subject": self.subject,
                "similarity": None if self.similarity is None else round(self.similarity, 4),
                "liveness": self.liveness, "reasons": self.reasons, "mode": self.mode,
                "elapsed_ms": round(self.elapsed_ms, 1)}


class CheckoutService:
    """Opens checkout sessions and decides their one attempt."""

    def __init__(self, gallery: Gallery, policy: CheckoutPolicy | None = None, passive: Passive | None = None) -> None:
        self.gallery = gallery
        self.policy = policy or CheckoutPolicy()
        self.passive = passive if passive is not None else Passive()
        self.ear_of = eye_aspect_ratio_source()

    # -- opening ---------------------------------------------------------------------------------------------
    def open(self, *, terminal: str, key_id: str, actor: str, amount: float | None = None,
             subject: str | None = None) -> tuple[SessionRow, Challenge]:
        """A new session with a fresh challenge; refused when rate-limited or locked out."""
        terminal = _terminal_name(terminal)
        claimed = payers.require_payer(self.gallery, subject)["id"] if subject else None
        now = _now()
        try:
            with self.gallery.sessions() as session:
                self._check_limits(session, terminal, claimed, now)
        except CheckoutError as exc:
            self.gallery.audit.record(actor=actor, action="checkout.open", subject_id=claimed, outcome="refused",
                                      details={"terminal": terminal, "code": exc.code})
            raise
        challenge = new_challenge(self.policy.steps, self.policy.fixed_challenge)
        row = SessionRow(id=f"co_{secrets.token_hex(12)}", nonce=challenge.nonce, terminal=terminal, key_id=key_id,
                         challenge=list(challenge.steps), amount=None if amount is None else f"{amount:.2f}",
                         claimed_subject=str(claimed) if claimed else None, subject_id=None, created_at=now,
                         expires_at=now + timedelta(seconds=self.policy.expiry_s), state=OPEN, decided_at=None,
                         reasons=[])
        with self.gallery.sessions.begin() as session:
            checkout_repo.insert_session(session, row)
            self.gallery.audit.append(session, actor=actor, action="checkout.open", subject_id=row.claimed_subject,
                                      details={"session": row.id, "terminal": terminal, "steps": row.challenge,
                                               "mode": "1:1" if claimed else "1:N", "amount": row.amount,
                                               "fixed_challenge": bool(self.policy.fixed_challenge)})
        return row, challenge

    def _check_limits(self, session: Any, terminal: str, subject_id: str | None, now: datetime) -> None:
        policy = self.policy
        if checkout_repo.count_created(session, terminal=terminal, since=now - timedelta(minutes=1)) \
                >= policy.terminal_per_minute:
            raise CheckoutError(f"terminal {terminal!r} opened {policy.terminal_per_minute} sessions in the last "
                                "minute: wait a moment", code="rate_limited", status=429)
        if subject_id and checkout_repo.count_for_subject(session, subject_id, since=now - timedelta(hours=1)) \
                >= policy.subject_per_hour:
            raise CheckoutError(f"this subject tried to pay {policy.subject_per_hour} times in the last hour: "
                                "try later or pay another way", code="rate_limited", status=429)
        since = now - timedelta(seconds=policy.lockout_s)
        if self._locked(checkout_repo.recent_outcomes(session, since=since, terminal=terminal,
                                                      limit=policy.lockout_failures)):
            raise CheckoutError(f"terminal {terminal!r} is locked after {policy.lockout_failures} failed attempts "
                                f"in a row: it unlocks {int(policy.lockout_s // 60)} minutes after the last one",
                                code="terminal_locked", status=423)
        if subject_id and self._locked(checkout_repo.recent_outcomes(session, since=since, subject_id=subject_id,
                                                                     limit=policy.lockout_failures)):
            raise CheckoutError(f"paying by face is locked for this subject after {policy.lockout_failures} failed "
                                "attempts in a row: pay another way", code="subject_locked", status=423)

    def _locked(self, outcomes: list[tuple[str, datetime]]) -> bool:
        return len(outcomes) >= self.policy.lockout_failures and all(state in FAILED for state, _ in outcomes)

    # -- deciding --------------------------------------------------------------------------------------------
    def get(self, session_id: str) -> SessionRow:
        with self.gallery.sessions() as session:
            row = checkout_repo.get_session(session, session_id)
        if row is None:
            raise CheckoutError(f"no checkout session {session_id!r} (finished sessions are deleted after a day)",
                                code="not_found", status=404)
        return row

    def claim(self, session_id: str, *, key_id: str, nonce: str | None, actor: str) -> SessionRow:
        """Spend the session's nonce for this attempt (before any frame is looked at)."""
        row = self.get(session_id)
        if row.key_id != key_id:
            raise CheckoutError("this session was opened by another terminal key", code="wrong_terminal", status=403)
        if not nonce or not secrets.compare_digest(nonce, row.nonce):
            raise CheckoutError("the nonce does not belong to this session", code="bad_nonce", status=403)
        if row.state != OPEN:
            self.gallery.audit.record(actor=actor, action="checkout.replay", outcome="refused",
                                      details={"session": row.id, "terminal": row.terminal})
            raise CheckoutError("this session's nonce was already used (one attempt per session): open a new session",
                                code="nonce_used", status=409)
        now = _now()
        if now > row.expires_at:
            self._close(row, EXPIRED, None, ["session expired before the frames arrived"], actor)
            raise CheckoutError(f"the session expired at {row.expires_at.isoformat(timespec='seconds')}: open a new "
                                "one", code="session_expired", status=410)
        return row

    def decide(self, row: SessionRow, frames: list[TimedFrame], *, actor: str) -> Decision:
        """Judge one attempt: challenge, passive liveness, fused match. Refusals close the session too."""
        started = time.perf_counter()
        try:
            check_window(frames, row.created_at, row.expires_at, _now(), self.policy.clock_skew_s)
            found = analyse(self.gallery.faces, frames[:self.policy.max_frames], self.policy.embed_frames, self.ear_of)
            decision = self.judge(row, frames, found)
        except SightlineError as exc:  # no face, two faces, a face box off the picture...: the nonce is spent
            self._close(row, REFUSED, None, [exc.message], actor, {"code": exc.code, "frames": len(frames)})
            raise
        decision.elapsed_ms = (time.perf_counter() - started) * 1000.0
        state = APPROVED if decision.approved else DECLINED
        named = decision.subject["id"] if decision.subject else row.claimed_subject
        self._close(row, state, str(named) if named else None, decision.reasons, actor,
                    {"frames": len(frames), **decision.details})
        for frame in frames:  # no frame outlives the request
            frame.image_bgr.fill(0)
        return decision

    def refuse(self, row: SessionRow, error: SightlineError, actor: str) -> None:
        """Close the session as refused (its nonce is spent) for a bad attempt, audited with the reason."""
        self._close(row, REFUSED, None, [error.message], actor, {"code": error.code})

    def judge(self, row: SessionRow, frames: list[TimedFrame], found: Analysis) -> Decision:
        """Challenge, passive liveness and the fused match of analysed frames (no store change; `decide` records)."""
        reasons: list[str] = []
        passed, seen, why = motion.check(row.challenge, found.motion)
        reasons += why
        passive = self.passive.score([frames[i].image_bgr for i in found.embedded],
                                     [found.faces[i] for i in found.embedded])
        if passive is not None and not passive.is_live:
            reasons.append(f"presentation attack suspected (passive liveness {passive.live:.2f})")
        liveness = {"challenge": {"steps": row.challenge, "seen": seen, "passed": passed},
                    "passive": passive.to_dict() if passive else None}
        match, mode = self._match(row, found.vectors)
        if match is None or not match.accepted:
            reasons.append("the face does not match the claimed subject" if mode == "1:1" else
                           "the face matches no enrolled payer clearly enough")
        approved = not reasons
        subject = None
        if approved and match is not None:
            subject = {"id": match.subject_id, "name": self.gallery.search.name(match.subject_id) or
                       self.gallery.show(match.subject_id)["name"]}
        details = {"mode": mode, "steps": row.challenge, "seen": seen, "challenge_passed": passed,
                   "passive": passive.to_dict() if passive else None,
                   "threshold": round(match.threshold, 4) if match else None,
                   "similarity": round(match.similarity, 4) if match else None,
                   "embedded_frames": len(found.vectors)}
        return Decision(row.id, approved, subject, match.similarity if approved and match else None, liveness,
                        reasons, mode, 0.0, details)

    def _match(self, row: SessionRow, vectors: list[np.ndarray]) -> tuple[fusion.Match | None, str]:
        gallery = self.gallery
        embedder, calibrated = gallery.faces.spec.embedder, gallery.threshold
        if row.claimed_subject:
            templates = payers.templates_of(gallery, row.claimed_subject)
            threshold = fusion.threshold_at(embedder, fusion.FAR_1_1, calibrated, len(vectors))
            match = fusion.score(templates, vectors, row.claimed_subject, threshold,
                                 fusion.frame_threshold(embedder, calibrated))
            return self._with_subject_rules(match, vectors), "1:1"
        eligible = {str(s["id"]): int(s["templates"]) for s in payers.payers(gallery)}
        if not eligible:
            return None, "1:N"
        compared = sum(eligible.values())
        threshold = fusion.threshold_1n(embedder, compared, calibrated, len(vectors))
        fused = fusion.fuse(vectors)
        ranked = [(sid, score) for sid, score in gallery.search.nearest(fused, 10) if sid in eligible]
        if not ranked:
            return None, "1:N"
        best_id = ranked[0][0]
        match = self._with_subject_rules(fusion.score(payers.templates_of(gallery, best_id), vectors, best_id,
                                                      threshold, fusion.frame_threshold(embedder, calibrated,
                                                                                        compared)), vectors)
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < fusion.MARGIN_1N:
            too_close = fusion.Match(best_id, match.similarity, match.frame_min, 2.0, match.frame_threshold)
            return too_close, "1:N"  # the best two payers are too close to tell apart
        return match, "1:N"

    def _with_subject_rules(self, match: fusion.Match, vectors: list[np.ndarray]) -> fusion.Match:
        """The subject's own stricter threshold and their "not this person" examples still apply."""
        search = self.gallery.search
        threshold = max(match.threshold, search.subject_threshold(match.subject_id) or -1.0)
        negative = search.negative_score(match.subject_id, fusion.fuse(vectors))
        if negative is not None and match.similarity < negative + NEGATIVE_MARGIN:
            threshold = 2.0  # closer to a face marked "not this person" than to the subject
        return fusion.Match(match.subject_id, match.similarity, match.frame_min, threshold, match.frame_threshold)

    def _close(self, row: SessionRow, state: str, subject_id: str | None, reasons: list[str], actor: str,
               details: dict[str, Any] | None = None) -> None:
        with self.gallery.sessions.begin() as session:
            if not checkout_repo.close_session(session, row.id, state=state, subject_id=subject_id, reasons=reasons,
                                               when=_now()):
                raise CheckoutError("this session's nonce was already used (one attempt per session)",
                                    code="nonce_used", status=409)
            self.gallery.audit.append(session, actor=actor, action="checkout.decision", subject_id=subject_id,
                                      outcome=state, details={"session": row.id, "terminal": row.terminal,
                                                              "amount": row.amount, "reasons": reasons,
                                                              **(details or {})})


def _terminal_name(value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 100:
        raise CheckoutError("'terminal' must name the till, 1 to 100 characters", code="bad_terminal")
    check_name(value, "a terminal name")
    return value


__all__ = ["APPROVED", "DECLINED", "EXPIRED", "REFUSED", "CheckoutService", "Decision"]
