"""Small real models for the Triton tests (a pytest plugin loaded by tests/conftest.py):
two XGBoost models exported to ONNX, their onnxruntime answers, and a model repository
root for each written by the trainer's writer (the staging / production layout).

The repository tests (tests/trainer/test_triton.py) and the bundled-tritonserver tests
(tests/local/test_tritonserver.py) share them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from spam_core.features.spec import N_FEATURES
from spam_trainer.onnx_export import INPUT_NAME, LABEL, PROBABILITIES, session, to_onnx
from spam_trainer.triton import write_model_repository

STAGING = "spam-detector-staging"
PRODUCTION = "spam-detector-production"


def toy_onnx(seed: int, n_features: int = N_FEATURES, depth: int = 3) -> bytes:
    """A small XGBoost model on dense float32 data (missing=NaN), exported to ONNX bytes."""
    rng = np.random.default_rng(seed)
    x = rng.random((400, n_features), dtype=np.float32)
    y = (x[:, seed % 7] + x[:, 11] + 0.3 * rng.standard_normal(400) > 1.0).astype(np.int64)
    model = xgb.XGBClassifier(
        n_estimators=15, max_depth=depth, missing=np.nan, n_jobs=1, random_state=seed
    )
    model.fit(x, y)
    return to_onnx(model, n_features=n_features).SerializeToString()


def toy_rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, N_FEATURES), dtype=np.float32)


@pytest.fixture(scope="module")
def toy_onnx_models() -> dict[str, bytes]:
    return {STAGING: toy_onnx(1, depth=2), PRODUCTION: toy_onnx(2, depth=4)}


@pytest.fixture(scope="module")
def toy_expected(toy_onnx_models: dict[str, bytes]) -> dict[str, Callable[[np.ndarray], dict]]:
    """In-process onnxruntime reference per model."""
    sessions = {name: session(data) for name, data in toy_onnx_models.items()}

    def reference(name: str) -> Callable[[np.ndarray], dict]:
        def run(x: np.ndarray) -> dict:
            label, proba = sessions[name].run([LABEL, PROBABILITIES], {INPUT_NAME: x})
            return {LABEL: label, PROBABILITIES: proba}

        return run

    return {name: reference(name) for name in sessions}


@pytest.fixture(scope="module")
def toy_repos(
    toy_onnx_models: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Two repository roots, one model each (the staging/production layout)."""
    roots = []
    for name, data in toy_onnx_models.items():
        root = tmp_path_factory.mktemp(name)
        write_model_repository(data, root, model_name=name)
        roots.append(root)
    return roots
