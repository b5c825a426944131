"""Reputation statistics -> the REPUTATION block: defaults, values, refusals, sources."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spam_core.features import (
    N_REPUTATION,
    REPUTATION_NAMES,
    STAT_COLUMNS,
    NoHistory,
    StatsByEmailId,
    reputation_features,
)
from spam_core.features.reputation import N_STATS, no_history, reputation_keys
from spam_core.message import parse_fields


def test_stat_columns_and_names_line_up():
    assert STAT_COLUMNS == ("sender_messages", "sender_spam", "domain_messages", "domain_spam")
    assert N_STATS == N_REPUTATION == 4
    assert REPUTATION_NAMES == (
        "sender_message_count_log",
        "sender_spam_rate",
        "domain_message_count_log",
        "domain_spam_rate",
    )


def test_zero_stats_give_the_documented_defaults():
    out = reputation_features(np.zeros((3, N_STATS)))
    assert out.dtype == np.float64 and out.shape == (3, N_REPUTATION)
    assert out.tolist() == [[0.0, 0.5, 0.0, 0.5]] * 3
    assert reputation_features(no_history(2)).tolist() == [[0.0, 0.5, 0.0, 0.5]] * 2
    assert reputation_features(np.zeros((0, N_STATS))).shape == (0, N_REPUTATION)


def test_values_are_log_counts_and_smoothed_rates():
    stats = np.array([[3, 1, 10, 9], [1, 1, 250, 0], [40, 40, 41, 40]], dtype=np.float64)
    out = reputation_features(stats)
    expected = [
        [math.log1p(3), (1 + 1) / (3 + 2), math.log1p(10), (9 + 1) / (10 + 2)],
        [math.log1p(1), (1 + 1) / (1 + 2), math.log1p(250), (0 + 1) / (250 + 2)],
        [math.log1p(40), (40 + 1) / (40 + 2), math.log1p(41), (40 + 1) / (41 + 2)],
    ]
    assert np.allclose(out, expected, rtol=0, atol=1e-15)
    # rates stay strictly inside (0, 1), as documented
    assert ((out[:, [1, 3]] > 0) & (out[:, [1, 3]] < 1)).all()
    # lists and integer arrays are accepted as well
    assert np.array_equal(reputation_features([[3, 1, 10, 9]]), out[:1])
    assert np.array_equal(reputation_features(stats.astype(np.int64)), out)


@pytest.mark.parametrize(
    "stats",
    [
        np.zeros(4),  # one row, not a matrix
        np.zeros((2, 3)),
        np.zeros((2, 5)),
        np.zeros((1, 2, 4)),
    ],
    ids=["1-d", "3-columns", "5-columns", "3-d"],
)
def test_bad_shapes_are_refused(stats):
    with pytest.raises(ValueError, match="must be \\(n, 4\\)"):
        reputation_features(stats)


@pytest.mark.parametrize(
    "bad", [-1.0, np.nan, np.inf, -np.inf], ids=["negative", "nan", "inf", "-inf"]
)
@pytest.mark.parametrize("column", range(N_STATS))
def test_negative_and_non_finite_counts_are_refused(bad, column):
    stats = np.ones((3, N_STATS))
    stats[1, column] = bad
    with pytest.raises(ValueError, match="finite, non-negative"):
        reputation_features(stats)


def test_reputation_keys_are_the_parsed_lower_cased_address_and_domain():
    r = parse_fields(email_id="x", sender="Ann Example <Ann.Example@Mail.Example.ORG>")
    assert reputation_keys(r) == ("ann.example@mail.example.org", "mail.example.org")
    assert reputation_keys(parse_fields(email_id="y", sender=None)) == ("", "")


def test_no_history_and_stats_by_email_id():
    a, b, c = (parse_fields(email_id=i, sender=f"{i}@example.org") for i in "abc")
    assert np.array_equal(NoHistory().stats([a, b]), np.zeros((2, N_STATS)))
    source = StatsByEmailId(["a", "b"], np.array([[1, 0, 2, 1], [5, 5, 9, 6]]))
    got = source.stats([b, a, b])
    assert got.dtype == np.float64
    assert got.tolist() == [[5, 5, 9, 6], [1, 0, 2, 1], [5, 5, 9, 6]]
    assert source.stats([]).shape == (0, N_STATS)
    # an e-mail without retrieved history is an error, never a silent default
    with pytest.raises(KeyError, match="no reputation statistics for e-mail 'c'"):
        source.stats([a, c])
    with pytest.raises(ValueError, match="2 ids but stats of shape"):
        StatsByEmailId(["a", "b"], np.zeros((3, N_STATS)))
    with pytest.raises(ValueError, match="ids but stats of shape"):
        StatsByEmailId(["a"], np.zeros((1, 3)))
