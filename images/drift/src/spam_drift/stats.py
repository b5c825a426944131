"""Drift statistics of a current sample against a baseline summary (``spam_core.drift``).

The baseline keeps, per feature, quantile bin edges with reference frequencies (PSI) and 101
quantiles (KS). The current side is the full sample of the window.

* **PSI**: the current sample binned on the baseline's edges, :func:`spam_core.drift.psi`.
* **KS**: the reference CDF is rebuilt from the quantiles (piecewise linear between them,
  right-continuous, point masses where quantiles repeat: zero-inflated features), the current
  CDF is the empirical one; ``D`` is the largest gap, evaluated on both sides of every jump
  and every knot (between them one side is constant and the other linear, so the extremes lie
  there). The p-value is the two-sample asymptotic one with the baseline's row count as the
  reference size: what ``scipy.stats.ks_2samp(method="asymp")`` gives for the raw samples.
* **Multiple testing**: Benjamini–Hochberg over the p-values of one model version's tests
  (``scipy.stats.false_discovery_control``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from spam_core.drift import bin_frequencies, psi


@dataclass(frozen=True)
class KS:
    statistic: float
    pvalue: float


def _ref_cdf(x: np.ndarray, knots: np.ndarray, probs: np.ndarray, *, left: bool) -> np.ndarray:
    """The reference CDF at ``x`` (``left``: the limit from the left, ``F(x-)``)."""
    side = "left" if left else "right"
    idx = np.searchsorted(knots, x, side=side)  # knots < x (left) or <= x (right)
    out = np.empty(len(x), dtype=np.float64)
    below = idx == 0
    above = idx == len(knots)
    inner = ~(below | above)
    out[below] = 0.0
    out[above] = 1.0
    lo = idx[inner] - 1
    hi = idx[inner]
    q_lo, q_hi = knots[lo], knots[hi]
    p_lo, p_hi = probs[lo], probs[hi]
    span = q_hi - q_lo
    frac = np.divide(x[inner] - q_lo, span, out=np.zeros_like(span), where=span > 0)
    out[inner] = p_lo + (p_hi - p_lo) * frac
    return out


def ks_against_quantiles(current: np.ndarray, quantiles: Sequence[float], n_reference: int) -> KS:
    """Two-sample KS of ``current`` against a reference known by its quantiles
    (``quantiles[i]`` at probability ``i / (len - 1)``)."""
    cur = np.sort(np.asarray(current))
    n = len(cur)
    if n == 0:
        raise ValueError("empty current sample")
    knots = np.asarray(quantiles, dtype=np.float64)
    probs = np.linspace(0.0, 1.0, len(knots))
    # the current CDF jumps at its distinct values: rows below (left) and up to (right) each
    first = np.flatnonzero(np.r_[True, cur[1:] != cur[:-1]])
    values = cur[first].astype(np.float64)
    below = first / n
    upto = np.r_[first[1:], n] / n
    # ... and is flat between them: at the reference's knots it is known by position
    at_knots_right = np.searchsorted(cur, knots, side="right") / n
    at_knots_left = np.searchsorted(cur, knots, side="left") / n
    xs = np.concatenate([values, knots])
    f_cur_right = np.concatenate([upto, at_knots_right])
    f_cur_left = np.concatenate([below, at_knots_left])
    d_right = np.abs(f_cur_right - _ref_cdf(xs, knots, probs, left=False))
    d_left = np.abs(f_cur_left - _ref_cdf(xs, knots, probs, left=True))
    d = float(max(d_right.max(), d_left.max()))
    return KS(statistic=d, pvalue=ks_pvalue(d, n, n_reference))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sample p-value (as ``ks_2samp(..., method="asymp")``)."""
    en = n * m / (n + m)
    return float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def psi_against_bins(
    current: np.ndarray, edges: Sequence[float], frequencies: Sequence[float]
) -> float:
    return psi(frequencies, bin_frequencies(np.asarray(current, dtype=np.float64), edges))


def bh_adjust(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (same order)."""
    if len(pvalues) == 0:
        return []
    return [float(p) for p in sps.false_discovery_control(np.asarray(pvalues), method="bh")]
