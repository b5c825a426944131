"""Search space, XGBoost params, ONNX export and its parity guard."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from spam_core.features import FEATURE_SET_VERSION, N_FEATURES
from spam_trainer.onnx_export import ParityError, check_parity, session, to_onnx
from spam_trainer.tune import search_space, xgb_params


def test_search_space_covers_the_documented_parameters():
    space = search_space(1000)
    assert set(space) == {
        "max_depth",
        "eta",
        "subsample",
        "colsample_bytree",
        "min_child_weight",
        "reg_lambda",
        "reg_alpha",
        "gamma",
        "n_estimators",
    }
    assert search_space(60)["n_estimators"].lower == 60  # small budgets stay valid


def test_xgb_params_are_seeded_and_cpu_only():
    p = xgb_params(
        {
            "max_depth": 4,
            "eta": 0.1,
            "subsample": 0.9,
            "colsample_bytree": 0.5,
            "min_child_weight": 1.0,
            "reg_lambda": 1.0,
            "reg_alpha": 0.0,
            "gamma": 0.0,
            "n_estimators": 100,
        },
        seed=7,
        nthread=1,
    )
    assert p["seed"] == 7 and p["tree_method"] == "hist" and p["eval_metric"][-1] == "logloss"


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(0)
    x = rng.random((400, N_FEATURES), dtype=np.float32)
    x[x < 0.7] = 0.0  # sparse-looking but dense: zeros are values, as in production
    y = (x[:, 0] + x[:, 510] > 0.6).astype(int)
    return xgb.XGBClassifier(n_estimators=30, max_depth=3, missing=np.nan).fit(x, y), x


def test_onnx_export_matches_xgboost(small_model):
    model, x = small_model
    proto = to_onnx(model)
    parity = check_parity(model, proto, x)
    assert parity.ok and parity.max_abs_diff < 1e-6
    inputs = session(proto.SerializeToString()).get_inputs()
    assert inputs[0].name == "features" and inputs[0].shape[1] == N_FEATURES
    assert {p.key: p.value for p in proto.metadata_props}["feature_set"] == FEATURE_SET_VERSION


def test_parity_guard_rejects_an_unfaithful_export(small_model):
    model, x = small_model
    other = xgb.XGBClassifier(n_estimators=5, max_depth=2, missing=np.nan).fit(
        x, (x[:, 1] > 0.5).astype(int)
    )
    with pytest.raises(ParityError, match="differ by"):
        check_parity(model, to_onnx(other), x)
