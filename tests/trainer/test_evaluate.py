"""Threshold rule and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from spam_trainer.evaluate import choose_threshold, classification_metrics, named_importance


def test_threshold_maximizes_f1_and_prefers_the_highest_on_ties():
    y = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    # every threshold in (0.3, 0.7] separates perfectly: the rule takes the highest, 0.7
    assert choose_threshold(y, scores) == pytest.approx(0.7)


def test_threshold_trades_precision_and_recall_by_f1():
    y = np.array([0, 0, 1, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
    t = choose_threshold(y, scores)
    m = classification_metrics(y, scores, t)
    for other in (0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8):
        assert m["f1"] >= classification_metrics(y, scores, other)["f1"] - 1e-12


def test_metrics_confusion_counts():
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    m = classification_metrics(y, s, 0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert 0 < m["roc_auc"] <= 1 and m["n"] == 5


def test_metrics_with_one_class_do_not_crash():
    m = classification_metrics(np.array([0, 0]), np.array([0.1, 0.9]), 0.5)
    assert np.isnan(m["roc_auc"]) and m["fp"] == 1


def test_named_importance_maps_xgboost_keys():
    assert named_importance({"f0": 2.0, "f2": 1.0}, ["a", "b", "c"]) == {"a": 2.0, "c": 1.0}


def test_cold_floor_keeps_the_ham_false_positive_rate_at_the_target():
    from spam_trainer.evaluate import cold_floor

    y = np.array([0] * 400 + [1] * 100)
    rng = np.random.default_rng(0)
    cold = np.concatenate([rng.random(400) * 0.9, 0.5 + rng.random(100) * 0.5])
    for target in (0.0, 0.0025, 0.01, 0.05):
        t = cold_floor(y, cold, target)
        fpr = ((cold >= t) & (y == 0)).sum() / 400
        assert fpr <= target
        # and it is the lowest such threshold: one ham more would be flagged just below it
        below = np.nextafter(t, -np.inf)
        assert ((cold >= below) & (y == 0)).sum() / 400 > target


def test_served_threshold_is_max_f1_unless_new_senders_ham_pays_for_it():
    from spam_trainer.evaluate import served_threshold

    y = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert served_threshold(y, scores, scores, target=0.0) == pytest.approx(0.7)
    cold = np.array([0.1, 0.2, 0.75, 0.7, 0.8, 0.9])  # a ham looks like spam without history
    assert served_threshold(y, scores, cold, target=0.0) > 0.75
