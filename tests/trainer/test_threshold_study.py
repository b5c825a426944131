"""The threshold-rule study (``tests/benchmarks/bench_threshold_rule.py``): its threshold is the
training rule's, read off the other folds only, and its oracle is the best any threshold does."""

from __future__ import annotations

import numpy as np
import pytest

from spam_trainer.evaluate import cold_floor
from tests.benchmarks.bench_threshold_rule import judge, oracle, summarize


def _folds(seed: int = 0, n_ham: int = 2000, n_spam: int = 800, k: int = 4):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.zeros(n_ham), np.ones(n_spam)]).astype(np.float32)
    base = np.concatenate([rng.beta(1, 12, n_ham), rng.beta(12, 1, n_spam)])
    # the field form: the same e-mail, a slightly different score
    scores = np.stack([base, np.clip(base + rng.normal(0, 0.01, base.size), 0, 1)], axis=1)
    fold = rng.permutation(np.arange(y.size) % k)
    return y, scores, fold


def test_judge_reads_the_threshold_off_the_other_folds_with_the_training_rule():
    y, scores, fold = _folds()
    rows = judge(y, scores, fold, 0.005)
    assert len(rows) == 4
    for k, row in enumerate(rows):
        other = fold != k
        expected = cold_floor(
            np.concatenate([y[other], y[other]]),
            np.concatenate([scores[other, 0], scores[other, 1]]),
            0.005,
        )
        assert row["threshold"] == expected
        ham = (fold == k) & (y == 0)
        assert row["raw_fp"] == np.sum(scores[ham, 0] >= expected)
        assert row["fpr"] == max(row["raw_fpr"], row["fields_fpr"])
        assert row["recall"] == min(row["raw_recall"], row["fields_recall"])


def test_changing_a_folds_own_scores_does_not_move_its_threshold():
    """Out of sample: the fold being judged plays no part in its threshold."""
    y, scores, fold = _folds()
    moved = scores.copy()
    moved[(fold == 0) & (y == 0)] = 0.999  # every ham of fold 0 now looks like spam
    before, after = judge(y, scores, fold, 0.005), judge(y, moved, fold, 0.005)
    assert after[0]["threshold"] == before[0]["threshold"]
    assert after[0]["fpr"] == 1.0
    assert after[1]["threshold"] != before[1]["threshold"]


def test_oracle_flags_at_most_half_a_percent_and_no_threshold_does_better():
    y, scores, fold = _folds(seed=3)
    for k, row in enumerate(oracle(y, scores, fold)):
        ham, spam = (fold == k) & (y == 0), (fold == k) & (y == 1)
        allowed = int(np.floor(0.005 * ham.sum()))
        assert max(row["raw_fp"], row["fields_fp"]) <= allowed
        # the next lower distinct score (any e-mail's) would flag one ham too many
        lower = scores[(fold == k)].ravel()
        lower = lower[lower < row["threshold"]]
        if lower.size:
            t = lower.max()
            flagged = max(np.sum(scores[ham, j] >= t) for j in (0, 1))
            recall = min(np.mean(scores[spam, j] >= t) for j in (0, 1))
            assert flagged > allowed or recall == row["recall"]


def test_summary_counts_a_fold_as_meeting_the_goal_only_when_both_bounds_hold():
    rows = [
        {"threshold": 0.9, "raw_fp": 1, "fields_fp": 2, "fpr": 0.004, "recall": 0.97, "ham": 500},
        {"threshold": 0.8, "raw_fp": 3, "fields_fp": 3, "fpr": 0.006, "recall": 0.98, "ham": 500},
        {"threshold": 0.95, "raw_fp": 0, "fields_fp": 0, "fpr": 0.0, "recall": 0.95, "ham": 500},
    ]
    s = summarize(rows)
    assert s["fpr_ok"] == pytest.approx(2 / 3)
    assert s["recall_ok"] == pytest.approx(2 / 3)
    assert s["both_ok"] == pytest.approx(1 / 3)
    assert s["fp"] == pytest.approx(5 / 3)


def test_paired_table_differences_candidates_from_the_shipped_one_seed_by_seed():
    from tests.benchmarks.bench_content_model import paired_table

    def runs(values: dict[int, tuple[float, float]]) -> list[dict]:
        return [
            {"seed": s, "both_recall@0.50%": a, "both_recall@0.25%": b}
            for s, (a, b) in values.items()
        ]

    shipped = {"name": "x [shipped]", "runs": runs({1: (0.96, 0.92), 2: (0.97, 0.93)})}
    # listed in another seed order: pairs are made by seed, not by position
    other = {"name": "y", "runs": runs({2: (0.97, 0.95), 1: (0.98, 0.94)})}
    table = paired_table([shipped, other])
    assert table is not None and table.row_count == 1
    cells = [c._cells[0] for c in table.columns]
    assert cells[0] == "y"
    assert cells[1].startswith("+0.0100 (se 0.0100; 1 / 0)")
    assert cells[2].startswith("+0.0200 (se 0.0000; 2 / 0)")
    assert paired_table([other]) is None  # no shipped candidate: nothing to pair with
    assert paired_table([{"name": "x [shipped]", "runs": runs({1: (0.9, 0.9)})}]) is None
