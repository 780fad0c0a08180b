"""The LFW protocol logic behind bench/lfw.py: pairs parsing, folds, threshold choice, labelled set."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import lfw  # noqa: E402
import protocol  # noqa: E402

from sightline.errors import SightlineError  # noqa: E402

PAIRS = """3\t2
Alice\t1\t2
Bob\t1\t3
Alice\t1\tBob\t2
Carol\t4\tDave\t1
Carol  1  2
Dave 2 3
Bob 3 Carol 2
Alice 2 Dave 3
Erin 1 2
Alice 1 2
Erin 2 Bob 1
Dave 1 Erin 1
"""


def test_parse_pairs_reads_folds_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS)
    pairs = protocol.read_pairs(path)
    assert len(pairs) == 12
    assert [p.fold for p in pairs] == [0] * 4 + [1] * 4 + [2] * 4
    assert [p.same for p in pairs] == [True, True, False, False] * 3
    assert pairs[2] == protocol.LfwPair(0, "Alice", 1, "Bob", 2)
    assert pairs[4] == protocol.LfwPair(1, "Carol", 1, "Carol", 2)
    assert protocol.lfw_image_path(tmp_path, "Carol", 4) == tmp_path / "Carol" / "Carol_0004.jpg"


def test_single_count_header_is_one_fold() -> None:
    pairs = protocol.parse_pairs("1\nAlice 1 2\nAlice 1 Bob 1\n")
    assert [(p.fold, p.same) for p in pairs] == [(0, True), (0, False)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ten 300\n", "header"),
        ("1 2\nAlice 1 2\nAlice 1 Bob 1\n", "promises"),
        ("1 1\nAlice 1 Bob 2\nAlice 1 Bob 1\n", "matched pair"),
        ("1 1\nAlice 1 2\nAlice 1 2\n", "mismatched pair"),
        ("1 1\nAlice 0 2\nAlice 1 Bob 1\n", "start at 1"),
        ("1 1\nAlice 1 x\nAlice 1 Bob 1\n", "not an image number"),
        ("1 1\nAlice 1 2\nAlice 1 Alice 3\n", "same person"),
    ],
)
def test_malformed_pairs_raise_clear_errors(text: str, message: str) -> None:
    with pytest.raises(protocol.PairsFormatError, match=message) as caught:
        protocol.parse_pairs(text)
    assert isinstance(caught.value, SightlineError)


def test_best_threshold_is_midpoint_of_separating_gap() -> None:
    scores = np.array([0.9, 0.1, 0.8, 0.4])
    same = np.array([True, False, True, False])
    assert protocol.best_threshold(scores, same) == pytest.approx(0.6)
    assert protocol.accuracy(scores, same, 0.6) == 1.0
    assert protocol.accuracy(scores, same, 0.85) == 0.75


def test_best_threshold_maximises_accuracy_when_classes_overlap() -> None:
    # genuine 0.9, 0.7, 0.3; impostor 0.2, 0.5, 0.6: only (0.6, 0.7) gets 5 of 6 right
    scores = np.array([0.9, 0.7, 0.3, 0.2, 0.5, 0.6])
    same = np.array([True, True, True, False, False, False])
    threshold = protocol.best_threshold(scores, same)
    assert threshold == pytest.approx(0.65)
    assert protocol.accuracy(scores, same, threshold) == pytest.approx(5 / 6)


def test_best_threshold_ties_take_the_middle_candidate() -> None:
    # sorted: .1 (i) .3 (g) .5 (i) .9 (g): midpoints .2 and .7 both get 3 of 4 right
    scores = np.array([0.9, 0.3, 0.1, 0.5])
    same = np.array([True, True, False, False])
    assert protocol.best_threshold(scores, same) == pytest.approx(0.7)


def test_cross_validation_picks_each_threshold_on_the_other_folds(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS)
    pairs = protocol.read_pairs(path)
    # per fold: two genuine then two impostor scores; fold 2's impostor 0.5 sits above fold 0/1's gap
    scores = np.array([0.9, 0.95, 0.1, 0.15, 0.8, 0.85, 0.2, 0.25, 0.55, 0.6, 0.5, 0.3])
    result = protocol.cross_validate(scores, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs]))
    # held out 0: train g {.8,.85,.55,.6}, i {.2,.25,.5,.3} -> midpoint(.5,.55); held out 2: midpoint(.25,.8)
    assert result.thresholds == pytest.approx([0.525, 0.525, 0.525])
    assert [f.accuracy for f in result.folds] == [1.0, 1.0, 1.0]
    # move fold 2's impostor above its genuine pairs: folds 0 and 1 now train on overlapping classes
    scores[10] = 0.7
    result = protocol.cross_validate(scores, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs]))
    # held out 0: train sorted .2 .25 .3 | .55 .6 .7(i) .8 .85 -> only midpoint(.3,.55) gets 7 of 8 right
    assert result.thresholds == pytest.approx([0.425, 0.425, 0.525])
    # fold 2 at .525: genuine .55 and .6 accepted, impostor .3 rejected, impostor .7 accepted (wrong)
    assert [f.accuracy for f in result.folds] == pytest.approx([1.0, 1.0, 0.75])
    assert result.mean == pytest.approx(np.mean([f.accuracy for f in result.folds]))
    assert result.std == pytest.approx(np.std([f.accuracy for f in result.folds], ddof=1))


def test_stratified_folds_balance_genuine_pairs() -> None:
    same = np.array([True] * 20 + [False] * 50)
    folds = protocol.stratified_folds(same, 10, seed=3)
    assert np.array_equal(folds, protocol.stratified_folds(same, 10, seed=3))
    for fold in range(10):
        assert (same[folds == fold]).sum() == 2
        assert (~same[folds == fold]).sum() == 5


def test_identity_from_file_name() -> None:
    assert common.identity_from_name(Path("obama-720p.jpg")) == "obama"
    assert common.identity_from_name(Path("johnsnow_test1.jpg")) == "kit_harington"
    assert common.identity_from_name(Path("lin-manuel-miranda.png")) == "lin_manuel_miranda"
    assert common.identity_from_name(Path("obama_and_biden.jpg")) is None
    assert common.identity_from_name(Path("kit_with_rose.jpg")) is None
    assert common.identity_from_name(Path("32bit.png")) is None


def test_labelled_set_skips_duplicates_and_unlabelled_files(tmp_path: Path) -> None:
    train = tmp_path / "examples" / "knn_examples" / "train"
    for person, name, content in [("obama", "a.jpg", b"o1"), ("rose_leslie", "img1.jpg", b"r1")]:
        (train / person).mkdir(parents=True, exist_ok=True)
        (train / person / name).write_bytes(content)
    (tmp_path / "examples" / "obama.jpg").write_bytes(b"o1")  # same bytes as train/obama/a.jpg
    (tmp_path / "examples" / "obama2.jpg").write_bytes(b"o2")
    (tmp_path / "examples" / "obama_and_biden.jpg").write_bytes(b"ob")
    (tmp_path / "examples" / "clip.mp4").write_bytes(b"video")
    items = common.labelled_faces_small(tmp_path)
    assert [(i.path.relative_to(tmp_path).as_posix(), i.identity) for i in items] == [
        ("examples/knn_examples/train/obama/a.jpg", "obama"),
        ("examples/knn_examples/train/rose_leslie/img1.jpg", "rose_leslie"),
        ("examples/obama2.jpg", "obama"),
    ]


def test_cli_reports_missing_lfw_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pairs.txt").write_text(PAIRS)
    (tmp_path / "Alice").mkdir()
    assert lfw.main(["--lfw", str(tmp_path), "--backends", "dlib"]) == 5
    assert "missing" in capsys.readouterr().err
