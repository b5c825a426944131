"""The drift statistics against independent computations: a PSI worked by hand, scipy's
two-sample KS on the raw samples, statsmodels' Benjamini–Hochberg."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.stats import ks_2samp
from statsmodels.stats.multitest import multipletests

from spam_core.drift import build_baseline
from spam_drift.stats import bh_adjust, ks_against_quantiles, ks_pvalue, psi_against_bins


def test_psi_matches_a_hand_computation() -> None:
    # edges (-inf, 1], (1, 2], (2, inf); reference shares 0.5 / 0.3 / 0.2
    current = np.array([0.5, 1.5, 1.5, 2.5, 2.5, 2.5, 3.0, 0.0, 1.0, 2.0])
    # current shares: <=1: 0.5, 0.0, 1.0 -> 3/10; (1,2]: 1.5, 1.5, 2.0 -> 3/10; >2: 4/10
    by_hand = sum((c - r) * math.log(c / r) for c, r in [(0.3, 0.5), (0.3, 0.3), (0.4, 0.2)])
    assert by_hand == pytest.approx(0.2407, abs=1e-4)
    assert psi_against_bins(current, [1.0, 2.0], [0.5, 0.3, 0.2]) == pytest.approx(by_hand)


def test_psi_is_zero_for_identical_shares_and_finite_for_empty_bins() -> None:
    assert psi_against_bins(np.array([0.0, 3.0]), [1.0], [0.5, 0.5]) == pytest.approx(0.0)
    value = psi_against_bins(np.array([0.0, 0.0]), [1.0], [0.5, 0.5])
    assert math.isfinite(value) and value > 1.0  # one bin empty: clipped, large, finite


def _samples(kind: str, rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    if kind == "normal":
        return rng.normal(shift, 1.0, n)
    if kind == "zero-inflated":
        return np.where(rng.random(n) < 0.4 - shift / 4, 0.0, rng.lognormal(shift, 1.0, n))
    if kind == "binary":
        return (rng.random(n) < 0.3 + shift / 3).astype(float)
    return np.round(rng.gamma(2.0 + shift, 1.0, n))  # discrete counts with ties


@pytest.mark.parametrize("kind", ["normal", "zero-inflated", "binary", "counts"])
@pytest.mark.parametrize("shift", [0.0, 0.15, 0.6])
def test_ks_against_baseline_quantiles_matches_scipy_on_the_raw_samples(
    kind: str, shift: float
) -> None:
    rng = np.random.default_rng(42)
    reference = _samples(kind, rng, 20_000, 0.0)
    current = _samples(kind, rng, 3_000, shift)
    quantiles = np.quantile(reference, np.linspace(0, 1, 101))
    ours = ks_against_quantiles(current, quantiles, n_reference=len(reference))
    scipy = ks_2samp(reference, current, method="asymp")
    # the baseline keeps 101 quantiles, not the sample: the CDF is known to within ~1%
    assert ours.statistic == pytest.approx(scipy.statistic, abs=0.015)
    if scipy.statistic > 0.05:
        assert ours.pvalue < 1e-6 and scipy.pvalue < 1e-6
    else:
        assert ours.pvalue > 1e-4 and scipy.pvalue > 1e-4


def test_ks_pvalue_is_scipys_asymptotic_two_sample_pvalue() -> None:
    rng = np.random.default_rng(0)
    for n, m in [(200, 5000), (3000, 3000), (50, 80)]:
        a, b = rng.normal(0, 1, n), rng.normal(0.1, 1, m)
        expected = ks_2samp(a, b, method="asymp")
        assert ks_pvalue(expected.statistic, n, m) == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_on_a_baseline_built_by_training_code() -> None:
    """The baseline of spam_core.drift.build_baseline, as training writes it."""
    rng = np.random.default_rng(5)
    train = rng.normal(0, 1, (8000, 1))
    baseline = build_baseline(
        train,
        ["f"],
        labels=np.zeros(8000),
        scores=rng.random(8000),
        score_split="t",
        threshold=0.5,
        feature_set="t",
        features_fingerprint="t",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    current = rng.normal(0.5, 1, 2000)
    ours = ks_against_quantiles(current, baseline.features["f"].quantiles, baseline.n_rows)
    assert ours.statistic == pytest.approx(ks_2samp(train[:, 0], current).statistic, abs=0.015)


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = [0.001, 0.2, 0.03, 0.04, 0.9, 1e-8, 0.049, 0.5]
    expected = multipletests(p, method="fdr_bh")[1]
    assert bh_adjust(p) == pytest.approx(list(expected))
    assert bh_adjust([]) == []
