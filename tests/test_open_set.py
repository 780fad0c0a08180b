"""Open-set decision logic: impostor curves, gallery-size-aware thresholds, conditions, cohort, decisions.

Pure logic on real score distributions where they matter (grey/colour LFW images for the condition
check); no face model runs here.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import DATA

from sightline.calibration.cohort import Cohort, CohortError, load_cohort, save_cohort
from sightline.calibration.conditions import channel_difference, classify
from sightline.calibration.decision import MATCH, UNDECIDED, UNKNOWN, decide
from sightline.calibration.impostor import ImpostorCurve, identity_upper_bound
from sightline.calibration.operating_point import OperatingPoint, derive, describe_rate, fmr_for_fpir, fpir_at
from sightline.calibration.policy import SHIPPED_FILE, OpenSetPolicy, shipped_policy

LFW = "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"


def test_curve_reproduces_measured_rates_and_extrapolates_conservatively() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(0.6, 0.08, 400_000)
    curve = ImpostorCurve.fit(scores)
    for rate in (1e-2, 1e-3, 1e-4):
        t = curve.threshold_for(rate)
        assert (scores >= t).mean() == pytest.approx(rate, rel=0.15)
    # beyond what was measured the exponential tail must not be laxer than the true (Gaussian) tail
    from math import erfc, sqrt
    t = curve.threshold_for(1e-7)
    assert 0.5 * erfc((t - 0.6) / (0.08 * sqrt(2))) <= 1e-7
    assert curve.fmr(curve.threshold_for(1e-6)) == pytest.approx(1e-6, rel=1e-6)
    assert ImpostorCurve.from_dict(json.loads(json.dumps(curve.to_dict()))).threshold_for(1e-5) == \
        pytest.approx(curve.threshold_for(1e-5), abs=1e-4)


def test_identity_bound_is_wide_when_false_matches_cluster_on_few_people() -> None:
    rng = np.random.default_rng(3)
    people = np.repeat(np.arange(200), 10)  # 200 probe people x 10 probes, 500 templates each
    scores = rng.normal(0.5, 0.1, (2000, 500))
    impostor = np.ones_like(scores, bool)
    spread = identity_upper_bound(ImpostorCurve.fit(scores), scores, impostor, people)
    clustered_scores = scores.copy()
    clustered_scores[people < 4] += 0.12  # four people who look like many others carry the high impostor scores
    point = ImpostorCurve.fit(clustered_scores)
    clustered = identity_upper_bound(point, clustered_scores, impostor, people)
    assert all(b >= a for a, b in zip(point.log10_fmr, clustered.log10_fmr, strict=True))  # never laxer
    assert list(clustered.log10_fmr) == sorted(clustered.log10_fmr, reverse=True)
    t = point.threshold_for(1e-4)
    # independent scores: the bound stays close to the estimate; clustered ones: the rate is far less certain
    assert spread.fmr(ImpostorCurve.fit(scores).threshold_for(1e-4)) < 1.25e-4
    assert clustered.fmr(t) > 1.4e-4 and clustered.threshold_for(1e-4) > t


def test_threshold_grows_with_the_gallery_and_holds_the_target() -> None:
    rng = np.random.default_rng(2)
    curve = ImpostorCurve.fit(rng.normal(0.5, 0.1, 200_000))
    points = [derive(curve, 0.01, n, condition="colour", score_kind="cosine", source="test") for n in (10, 100, 1000)]
    assert points[0].threshold < points[1].threshold < points[2].threshold
    for point in points:
        assert fpir_at(curve, point.threshold, point.comparisons) == pytest.approx(0.01, rel=1e-3)
    # a 1:N threshold reused from 1:1 (FMR 1 %) names far more strangers with 1,000 templates
    assert fpir_at(curve, curve.threshold_for(0.01), 1000) > 0.99
    assert fmr_for_fpir(0.01, 1) == pytest.approx(0.01)
    assert describe_rate(0.001) == "1 in 1,000 strangers"
    with pytest.raises(ValueError):
        fmr_for_fpir(1.5, 10)


def test_empirical_fpir_of_real_max_of_n_matches_the_target() -> None:
    """Strangers against galleries of N random 'templates': the derived threshold names about target of them."""
    rng = np.random.default_rng(3)
    dim = 32
    templates = rng.normal(size=(500, dim))
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    calibration = rng.normal(size=(800, dim))
    calibration /= np.linalg.norm(calibration, axis=1, keepdims=True)
    curve = ImpostorCurve.fit((calibration @ templates.T).ravel())
    strangers = rng.normal(size=(4000, dim))
    strangers /= np.linalg.norm(strangers, axis=1, keepdims=True)
    point = derive(curve, 0.05, 500, condition="colour", score_kind="cosine", source="test")
    named = ((strangers @ templates.T).max(axis=1) >= point.threshold).mean()
    assert 0.02 < named < 0.08


def _point(kind: str = "cosine", threshold: float = 0.9, margin: float = 0.0) -> OperatingPoint:
    return OperatingPoint(0.01, threshold, 10, "colour", kind, "test", margin)


def test_decide_names_only_above_threshold_and_margin_and_refuses_poor_faces() -> None:
    point = _point(threshold=0.9, margin=0.02)
    assert decide([("a", 0.95), ("b", 0.80)], point).outcome == MATCH
    assert decide([("a", 0.95), ("b", 0.80)], point).subject_id == "a"
    assert decide([("a", 0.85), ("b", 0.80)], point).outcome == UNKNOWN
    ambiguous = decide([("a", 0.95), ("b", 0.94)], point)
    assert ambiguous.outcome == UNDECIDED and ambiguous.subject_id is None
    poor = classify(False, 6.0, 500, 1.0)
    refused = decide([("a", 0.99)], point, condition=poor)
    assert refused.outcome == UNDECIDED and refused.subject_id is None and "too poor" in refused.reason
    assert decide([], point).outcome == UNKNOWN
    audit = decide([("a", 0.95)], point).to_audit()
    assert audit["target_fpir"] == 0.01 and audit["threshold"] == 0.9 and "subject" not in json.dumps(audit)


def test_cohort_z_rule_needs_a_normaliser_and_uses_it() -> None:
    point = _point(kind="cohort-z", threshold=3.0)
    with pytest.raises(ValueError):
        decide([("a", 0.95)], point)
    assert decide([("a", 0.95)], point, normalise=lambda s: (s - 0.5) / 0.1).outcome == MATCH
    assert decide([("a", 0.95)], point, normalise=lambda s: (s - 0.8) / 0.1).outcome == UNKNOWN


def test_grey_faces_are_detected_from_their_pixels() -> None:
    colour = cv2.imread(str(DATA / LFW))
    grey = cv2.cvtColor(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    box = (70.0, 70.0, 180.0, 180.0)
    assert channel_difference(grey, box) < 2.0 <= channel_difference(colour, box)
    assert classify(True, 40, 500, 1.0).name == "grey"
    assert classify(False, 40, 60, 1.0).name == "lowres"
    assert classify(False, 15, 500, 1.0).name == "lowres"
    assert classify(True, 15, 500, 1.0).name == "grey-lowres"
    assert classify(False, 40, 500, 1.0).name == "colour" and not classify(False, 40, 500, 1.0).poor
    assert classify(False, 40, 5, 1.0).poor and classify(False, 40, 500, 0.1).poor


def test_cohort_file_is_checked_against_its_recorded_sha256(tmp_path) -> None:
    vectors = np.random.default_rng(4).normal(size=(60, 8)).astype(np.float32)
    path = tmp_path / "cohorts" / "e-lfw-view1.npz"
    digest = save_cohort(Cohort(vectors, "e", "test"), path)
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == digest
    assert load_cohort(path, "e").vectors.shape == (60, 8)
    with pytest.raises(CohortError, match="built with"):
        load_cohort(path, "other")
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CohortError, match="sha256"):
        load_cohort(path, "e")
    with pytest.raises(CohortError):
        Cohort(vectors[:10], "e", "too small")


def test_shipped_policy_is_fitted_and_stricter_where_impostors_score_higher() -> None:
    policy = shipped_policy("yunet-dlib")
    assert policy is not None, f"{SHIPPED_FILE} has no yunet-dlib entry: run bench/open_set.py --write-shipped"
    assert isinstance(policy, OpenSetPolicy) and "colour" in policy.curves
    for kind in ("cosine", "cohort-z"):
        colour = policy.operating_point("colour", 1000, kind=kind).threshold
        assert policy.operating_point("colour", 10, kind=kind).threshold < colour
        assert policy.operating_point("grey", 1000, kind=kind).threshold >= colour - 1e-9
