"""The neutral cold start: content trees + reputation trees, exactly 0 at the defaults.

Synthetic data with the corpus's trap built in: spam senders are first-time senders (no
history), ham senders repeat. A real (small) XGBoost fit each; nothing is mocked.
"""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from spam_core.features import N_CONTENT, N_FEATURES
from spam_core.features.reputation import reputation_features
from spam_trainer.coldstart import (
    DEFAULTS,
    fit_reputation_term,
    has_history,
    merge,
    reputation_margin,
    without_history,
)
from spam_trainer.onnx_export import check_parity, to_onnx

PARAMS = {
    "max_depth": 3,
    "learning_rate": 0.2,
    "tree_method": "hist",
    "n_jobs": 1,
    "random_state": 0,
    "missing": np.nan,
    "objective": "binary:logistic",
}


def _data(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.float32)
    x = np.zeros((n, N_FEATURES), dtype=np.float32)
    x[:, :N_CONTENT] = rng.random((n, N_CONTENT)) * 0.1
    x[:, 0] += np.where(y == 1, 0.5, 0.0) + rng.normal(0, 0.25, n)  # content signal
    stats = np.zeros((n, 4))
    # ham: mostly repeat senders with a ham history; spam: mostly first-time senders
    repeat = np.where(y == 0, rng.random(n) < 0.8, rng.random(n) < 0.1)
    messages = np.where(repeat, rng.integers(1, 30, n), 0)
    # ham senders: mostly ham histories, some balanced ones (lists with spam in them)
    spam_share = np.where(y == 1, 0.9, np.where(rng.random(n) < 0.3, 0.5, 0.05))
    stats[:, 0] = messages
    stats[:, 1] = np.round(messages * spam_share)
    stats[:, 2] = messages * 3
    stats[:, 3] = np.round(messages * 3 * spam_share)
    x[:, N_CONTENT:] = reputation_features(stats)
    return x, y


@pytest.fixture(scope="module")
def model():
    x, y = _data()
    content = xgb.XGBClassifier(n_estimators=40, **PARAMS)
    content.fit(without_history(x), y)
    margin = content.predict(without_history(x), output_margin=True)
    term = fit_reputation_term(x, y, margin, seed=0)
    assert term is not None
    return content, term, merge(content, term)


def test_defaults_are_the_unknown_sender_block():
    assert DEFAULTS.tolist() == [0.0, 0.5, 0.0, 0.5]
    x, _ = _data(50)
    assert not has_history(without_history(x)).any()


def test_merged_margin_is_content_plus_reputation(model):
    content, term, merged = model
    x, _ = _data(300, seed=1)
    expected = content.predict(x, output_margin=True) + reputation_margin(term, x)
    np.testing.assert_allclose(merged.predict(x, output_margin=True), expected, atol=1e-5)


def test_no_history_is_no_evidence_exactly(model):
    content, term, merged = model
    x, _ = _data(300, seed=2)
    cold = without_history(x)
    assert np.all(reputation_margin(term, cold) == 0.0)
    np.testing.assert_array_equal(merged.predict_proba(cold), content.predict_proba(cold))


def test_history_moves_the_score_both_ways(model):
    _, _, merged = model
    x, _ = _data(1, seed=3)
    x = without_history(x)
    ham_history = x.copy()
    ham_history[:, N_CONTENT:] = reputation_features(np.array([[20, 0, 60, 1]]))
    spam_history = x.copy()
    spam_history[:, N_CONTENT:] = reputation_features(np.array([[20, 20, 60, 58]]))
    base = merged.predict(x, output_margin=True)[0]
    assert merged.predict(ham_history, output_margin=True)[0] < base
    assert merged.predict(spam_history, output_margin=True)[0] > base


def test_the_merged_model_exports_to_one_faithful_onnx_graph(model):
    _, _, merged = model
    x, _ = _data(200, seed=4)
    parity = check_parity(merged, to_onnx(merged), np.vstack([x, without_history(x)]))
    assert parity.max_abs_diff < 1e-5


def test_no_history_rows_give_no_reputation_term():
    x, y = _data(100)
    assert fit_reputation_term(without_history(x), y, np.zeros(len(y))) is None
