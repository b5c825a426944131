"""Real model bundles built from the training stages with a fixed configuration (no Ray Tune),
for tests and benchmarks that need a model but not a search."""

from __future__ import annotations

from pathlib import Path

FIXED_CONFIG = {
    "max_depth": 5,
    "eta": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.6,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
    "reg_alpha": 0.01,
    "gamma": 0.1,
    "n_estimators": 300,
}


def fixed_bundle(dataset_dir: Path, work: Path, reputation, *, n_estimators: int = 300) -> Path:
    """Features, final model (threshold from out-of-fold scores), ONNX + Triton export;
    ``reputation``: the dataset e-mails' point-in-time stats (``spam_trainer.reputation``)."""
    import pandas as pd

    from spam_trainer.train import build_matrices, export_stage, features_stage, train_stage
    from spam_trainer.tune import TuneOutcome, TuneSettings

    features = features_stage(dataset_dir, work, reputation)
    data = build_matrices(dataset_dir, features, reputation)
    outcome = TuneOutcome(
        best_config={**FIXED_CONFIG, "n_estimators": n_estimators},
        best_iteration=n_estimators - 1,
        best_val_logloss=0.0,
        best_val_auc=0.0,
        trials=pd.DataFrame(),
    )
    trained = train_stage(data, outcome, TuneSettings(), work, features, nthread=2)
    bundle, _ = export_stage(work, trained, features, data, model_name="spam-detector")
    return bundle
