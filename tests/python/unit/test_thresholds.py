from __future__ import annotations

import numpy as np
import pytest

from botsift.errors import BotsiftError
from botsift.thresholds import precision_recall_at, select_thresholds


def _scores():
    # 20 positives scored 0.60..0.99, 200 negatives 0.0..0.65 (overlap at the low end).
    pos = np.linspace(0.60, 0.99, 20)
    neg = np.linspace(0.0, 0.65, 200)
    return np.r_[np.ones(20, int), np.zeros(200, int)], np.r_[pos, neg]


def test_action_is_lowest_threshold_meeting_precision():
    y, s = _scores()
    th = select_thresholds(y, s, precision_target=0.95, recall_target=0.9, min_alerts=5)
    assert th.precision_target_met
    prec, _ = precision_recall_at(y, s, th.action)
    assert prec >= 0.95
    lower = s[s < th.action].max()
    assert precision_recall_at(y, s, lower)[0] < 0.95


def test_review_is_highest_threshold_meeting_recall():
    y, s = _scores()
    th = select_thresholds(y, s, precision_target=0.95, recall_target=0.9, min_alerts=5)
    assert not th.notes
    assert precision_recall_at(y, s, th.review)[1] >= 0.9
    higher = s[s > th.review].min()
    assert precision_recall_at(y, s, higher)[1] < 0.9
    assert th.review <= th.action


def test_weights_lower_precision_of_down_sampled_negatives():
    y, s = _scores()
    w = np.where(y == 1, 1.0, 10.0)  # each negative stands for 10 population rows
    plain = select_thresholds(y, s, precision_target=0.9, min_alerts=5)
    weighted = select_thresholds(y, s, weight=w, precision_target=0.9, min_alerts=5)
    assert weighted.action > plain.action


def test_unreachable_precision_falls_back_and_says_so():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.random(500)  # no signal: precision stays near 0.5
    th = select_thresholds(y, s, precision_target=0.99, min_alerts=20)
    assert not th.precision_target_met
    assert th.notes and "unreachable" in th.notes[0]
    assert (s >= th.action).sum() >= 20


def test_review_above_action_is_clamped():
    y = np.array([1, 1, 1, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    th = select_thresholds(y, s, precision_target=0.5, recall_target=0.5, min_alerts=1)
    assert th.review <= th.action


def test_no_positives_is_an_error():
    with pytest.raises(BotsiftError, match="no positives"):
        select_thresholds(np.zeros(10), np.linspace(0, 1, 10))


def test_bad_target_is_an_error():
    with pytest.raises(BotsiftError, match="must be in"):
        select_thresholds(np.array([0, 1]), np.array([0.1, 0.9]), precision_target=1.5)


def test_training_checks_its_targets_before_any_work(tmp_path):
    from botsift.train import train_models

    # the warehouse does not exist: the target is refused before it is even opened
    with pytest.raises(BotsiftError, match=r"precision target 2 must be in \(0, 1\]"):
        train_models(tmp_path / "missing.duckdb", {}, tmp_path / "artifacts", precision_target=2)
    assert not (tmp_path / "artifacts").exists()
