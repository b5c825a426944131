"""Training stages: features -> Ray Tune -> final model + threshold -> ONNX/Triton export ->
drift baseline -> MLflow run, registered version, alias ``staging`` when the gates pass.

Every stage reads and writes files in a working directory, so the Kubeflow pipeline runs each
stage as its own component (``pipelines/``) and ``spam-platform train`` chains the very same
functions in one process. Layout of a working directory::

    dataset/                 (with feedback) the corpus dataset plus the feedback log's
                                      labeled e-mails (spam_trainer.feedback_data); the
                                      stages read it in place of the corpus dataset
    reputation/stats.parquet stage 0  point-in-time sender/domain history of every e-mail
                                      (Feast; see spam_trainer.reputation)
    features.json            stage 1  fitted feature artifacts (train split only)
    tune/tune.json           stage 2  best configuration; tune/trials.csv the trial table
    model/xgboost.json       stage 3  final model (XGBoost JSON); model/training.json metrics,
                                      threshold, rounds; model/plots/*.png
    bundle/                  stage 4  model.onnx (parity-checked), triton/, features.json,
                                      xgboost.json, bundle.json
    bundle/drift_baseline.json  stage 5
                             stage 6  MLflow run + registered model version

Final model and threshold: the tuned configuration's early-stopped number of rounds (on the
validation split) is scaled to the size of train + validation, and the final model is fit on
train + validation. The threshold is chosen on 5-fold out-of-fold predictions over train +
validation (see ``evaluate.THRESHOLD_RULE``); the test split is touched only to evaluate.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.model_selection import StratifiedKFold

from spam_core import artifacts as feature_artifacts
from spam_core.artifacts import FeatureArtifacts
from spam_core.bundle import (
    BASELINE_FILE,
    FEATURES_FILE,
    ONNX_FILE,
    TRITON_DIR,
    XGBOOST_FILE,
    BundleMeta,
    read_meta,
    sha256_bytes,
    write_meta,
)
from spam_core.drift import build_baseline
from spam_core.features import FEATURE_SET_VERSION, FeatureExtractor, ReputationSource
from spam_core.ingest import load_manifest, read_records
from spam_trainer.coldstart import (
    fit_reputation_term,
    has_history,
    merge,
    reputation_margin,
    without_history,
)
from spam_trainer.evaluate import (
    THRESHOLD_RULE,
    classification_metrics,
    named_importance,
    save_plots,
    served_threshold,
)
from spam_trainer.feedback_data import (
    FeedbackOptions,
    evaluate_recent,
    feedback_stage,
    log_feedback,
)
from spam_trainer.onnx_export import check_parity, to_onnx
from spam_trainer.reputation import load_reputation, reputation_stage, serving_reputation
from spam_trainer.slices import field_form
from spam_trainer.tune import TuneOutcome, TuneSettings, run_search, xgb_params

Log = Callable[[str], None]
CV_FOLDS = 5


def _quiet(_: str) -> None:
    return None


# --------------------------------------------------------------------------- data
@dataclass
class SplitData:
    x: np.ndarray
    """The raw form: each RFC 822 message as ingest read it."""
    y: np.ndarray
    ids: list[str]
    x_fields: np.ndarray
    """The same e-mails in the API field form (``slices.field_form``: subject / body / sender /
    date as a gateway caller sends them, without the MIME and HTML structure)."""

    def both_forms(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows then field-form rows (what the model is fit on: it serves both)."""
        return np.vstack([self.x, self.x_fields]), np.concatenate([self.y, self.y])


@dataclass
class Matrices:
    train: SplitData
    validation: SplitData
    test: SplitData

    def train_and_validation(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw form of train + validation."""
        return (
            np.vstack([self.train.x, self.validation.x]),
            np.concatenate([self.train.y, self.validation.y]),
        )

    def train_and_validation_fields(self) -> np.ndarray:
        return np.vstack([self.train.x_fields, self.validation.x_fields])


def build_matrices(
    dataset_dir: Path, features: FeatureArtifacts, reputation: ReputationSource
) -> Matrices:
    """Dense float32 matrices (zeros are values, not missing) in both forms (raw and API
    fields) and 0/1 labels per split. The training split's linear text margin is
    cross-fitted (its e-mails trained the linear model); the other splits get the fitted
    model's margin, as serving does."""
    from spam_trainer.features import training_matrices

    extractor = FeatureExtractor(features)
    out = {}
    for split in ("train", "validation", "test"):
        records, labels = read_records(dataset_dir, split=split)
        if not records:
            raise ValueError(f"{dataset_dir}: the {split} split is empty")
        if any(lab is None for lab in labels):
            raise ValueError(
                f"{dataset_dir}: the {split} split has unlabeled messages; "
                "training needs labels (SpamAssassin layout or ingest --label)"
            )
        y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
        if len(set(y.tolist())) < 2:
            raise ValueError(f"{dataset_dir}: the {split} split has only one class")
        if split == "train":  # the linear margin cross-fitted (spam_trainer.features)
            raw, fields = training_matrices(extractor, records, y, reputation)
        else:
            raw = extractor.transform_records(records, reputation)
            fields = extractor.transform_records([field_form(r) for r in records], reputation)
        out[split] = SplitData(raw, y, [r.email_id for r in records], fields)
    return Matrices(**out)


# --------------------------------------------------------------------------- stage 1
def features_stage(
    dataset_dir: Path, work_dir: Path, reputation: ReputationSource
) -> FeatureArtifacts:
    from spam_trainer.features import fit_features

    fitted = fit_features(dataset_dir, reputation)
    feature_artifacts.save(fitted, work_dir / FEATURES_FILE)
    return fitted


# --------------------------------------------------------------------------- stage 2
def tune_stage(
    data: Matrices,
    settings: TuneSettings,
    work_dir: Path,
    on_trial_done: Callable[[int, int], None] | None = None,
) -> TuneOutcome:
    out = work_dir / "tune"
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = data.train.both_forms()
    x_val, y_val = data.validation.both_forms()
    outcome = run_search(  # the content trees' search: both forms, reputation at defaults
        without_history(x_train),
        y_train,
        without_history(x_val),
        y_val,
        settings,
        work_dir=work_dir / "ray",
        on_trial_done=on_trial_done,
    )
    outcome.trials.to_csv(out / "trials.csv", index=False)
    (out / "tune.json").write_text(
        json.dumps(
            {
                "best_config": outcome.best_config,
                "best_iteration": outcome.best_iteration,
                "best_val_logloss": outcome.best_val_logloss,
                "best_val_auc": outcome.best_val_auc,
                "seconds": outcome.seconds,
                "trials": len(outcome.trials),
                "settings": settings.__dict__,
            },
            indent=1,
            default=float,
        )
        + "\n"
    )
    return outcome


def load_tune_settings(work_dir: Path) -> TuneSettings:
    """The search settings a tune stage ran with (``tune/tune.json``)."""
    doc = json.loads((work_dir / "tune" / "tune.json").read_text())
    return TuneSettings(**doc["settings"])


def load_tune(work_dir: Path) -> TuneOutcome:
    import pandas as pd

    doc = json.loads((work_dir / "tune" / "tune.json").read_text())
    return TuneOutcome(
        best_config=doc["best_config"],
        best_iteration=doc["best_iteration"],
        best_val_logloss=doc["best_val_logloss"],
        best_val_auc=doc["best_val_auc"],
        trials=pd.read_csv(work_dir / "tune" / "trials.csv"),
        seconds=doc["seconds"],
    )


# --------------------------------------------------------------------------- stage 3
def classifier_params(config: dict[str, Any], seed: int, nthread: int) -> dict[str, Any]:
    p = xgb_params(config, seed, nthread)
    return {
        "max_depth": p["max_depth"],
        "learning_rate": p["eta"],
        "subsample": p["subsample"],
        "colsample_bytree": p["colsample_bytree"],
        "min_child_weight": p["min_child_weight"],
        "reg_lambda": p["lambda"],
        "reg_alpha": p["alpha"],
        "gamma": p["gamma"],
        "tree_method": "hist",
        "n_jobs": nthread,
        "random_state": seed,
        "missing": np.nan,
        "objective": "binary:logistic",
        "eval_metric": "logloss",
    }


@dataclass
class Trained:
    model: xgb.XGBClassifier
    n_estimators: int
    threshold: float
    cv_metrics: dict[str, float]
    test_metrics: dict[str, float]
    test_at_half: dict[str, float]
    test_scores: np.ndarray = field(repr=False)
    oof_scores: np.ndarray = field(repr=False)


def train_stage(
    data: Matrices,
    outcome: TuneOutcome,
    settings: TuneSettings,
    work_dir: Path,
    features: FeatureArtifacts,
    nthread: int = 1,
) -> Trained:
    """Final model on train + validation (content trees + reputation trees, see
    ``spam_trainer.coldstart``); threshold from out-of-fold scores; test metrics."""
    params = classifier_params(outcome.best_config, settings.seed, nthread)
    x_train, y_train = data.train.both_forms()
    x_val, y_val = data.validation.both_forms()
    probe = xgb.XGBClassifier(
        n_estimators=int(outcome.best_config["n_estimators"]),
        early_stopping_rounds=settings.early_stopping_rounds,
        **params,
    )
    probe.fit(
        without_history(x_train),
        y_train,
        eval_set=[(without_history(x_val), y_val)],
        verbose=False,
    )
    raw_all, y_raw = data.train_and_validation()
    n = len(y_raw)
    scale = 2 * n / len(y_train)
    n_estimators = max(1, round((probe.best_iteration + 1) * scale))
    fit = fit_cold_start(
        raw_all,
        data.train_and_validation_fields(),
        y_raw,
        params,
        n_estimators,
        seed=settings.seed,
        nthread=nthread,
    )
    x_all, y_all, oof_margin, term, model = fit.x, fit.y, fit.oof_margin, fit.term, fit.model
    # out-of-fold content + the reputation term (2 inputs, 60 depth-2 trees) fit on all rows
    oof = _sigmoid(oof_margin + reputation_margin(term, x_all))
    # unknown senders get the content trees alone: their out-of-fold scores are oof_margin's
    threshold = served_threshold(y_all, oof, _sigmoid(oof_margin))
    test_scores = model.predict_proba(data.test.x)[:, 1]
    trained = Trained(
        model=model,
        n_estimators=n_estimators,
        threshold=threshold,
        cv_metrics=classification_metrics(y_all, oof, threshold),
        test_metrics=classification_metrics(data.test.y, test_scores, threshold),
        test_at_half=classification_metrics(data.test.y, test_scores, 0.5),
        test_scores=test_scores,
        oof_scores=oof[:n],
    )
    cold = classification_metrics(y_all, _sigmoid(oof_margin), threshold)
    cold_start = {
        "oof_unknown_sender_ham_fpr": cold["fp"] / max(1.0, cold["fp"] + cold["tn"]),
        "oof_unknown_sender_recall": cold["recall"],
        "content_trees": n_estimators,
        "reputation_trees": 0 if term is None else term.num_boosted_rounds(),
        "rows_with_history": int(has_history(x_all).sum()),
        "rows": len(y_all),
    }

    out = work_dir / "model"
    out.mkdir(parents=True, exist_ok=True)
    model.save_model(out / XGBOOST_FILE)
    (out / "training.json").write_text(
        json.dumps(
            {
                "n_estimators": n_estimators,
                "threshold": threshold,
                "threshold_rule": THRESHOLD_RULE,
                "cv_metrics": trained.cv_metrics,
                "test_metrics": trained.test_metrics,
                "test_at_0.5": trained.test_at_half,
                "params": params | {"missing": "nan"},
                "probe_best_iteration": int(probe.best_iteration),
                "cold_start": cold_start,
            },
            indent=1,
            default=float,
        )
        + "\n"
    )
    np.save(out / "oof_scores.npy", trained.oof_scores)
    save_plots(
        out / "plots",
        data.test.y,
        test_scores,
        threshold,
        named_importance(
            model.get_booster().get_score(importance_type="gain"), features.feature_names
        ),
    )
    return trained


def fit_content(
    x: np.ndarray, y: np.ndarray, params: dict[str, Any], n_estimators: int
) -> xgb.XGBClassifier:
    """The content trees: ``x`` must have its reputation columns at the defaults."""
    model = xgb.XGBClassifier(n_estimators=n_estimators, **params)
    model.fit(x, y, verbose=False)
    return model


@dataclass(frozen=True)
class ColdStartFit:
    """The served model (content trees + reputation term, ``spam_trainer.coldstart``) and what
    it was fitted on: ``x`` / ``y`` every e-mail twice (rows i and n + i: raw and API fields),
    ``oof_margin`` the content trees' out-of-fold margins of those rows."""

    model: xgb.XGBClassifier
    x: np.ndarray
    y: np.ndarray
    oof_margin: np.ndarray
    term: xgb.Booster | None


def fit_cold_start(
    raw: np.ndarray,
    fields: np.ndarray,
    y: np.ndarray,
    params: dict[str, Any],
    n_estimators: int,
    *,
    seed: int,
    nthread: int = 1,
) -> ColdStartFit:
    """Content trees on both forms with history at the defaults, their out-of-fold margins
    (``CV_FOLDS`` folds by e-mail: both forms of an e-mail together), the reputation term on
    top of those, merged into one model."""
    n = len(y)
    x_all = np.vstack([raw, fields])
    y_all = np.concatenate([y, y])
    content_all = without_history(x_all)
    oof_margin = np.zeros(len(y_all), dtype=np.float64)
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
    for fit_idx, held_idx in folds.split(raw, y):
        fit_rows, held_rows = (
            np.concatenate([fit_idx, fit_idx + n]),
            np.concatenate([held_idx, held_idx + n]),
        )
        fold = fit_content(content_all[fit_rows], y_all[fit_rows], params, n_estimators)
        oof_margin[held_rows] = fold.predict(content_all[held_rows], output_margin=True)
    term = fit_reputation_term(x_all, y_all, oof_margin, seed=seed, nthread=nthread)
    model = merge(fit_content(content_all, y_all, params, n_estimators), term)
    return ColdStartFit(model, x_all, y_all, oof_margin, term)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def load_trained(work_dir: Path, data: Matrices) -> Trained:
    doc = json.loads((work_dir / "model" / "training.json").read_text())
    model = xgb.XGBClassifier()
    model.load_model(work_dir / "model" / XGBOOST_FILE)
    return Trained(
        model=model,
        n_estimators=doc["n_estimators"],
        threshold=doc["threshold"],
        cv_metrics=doc["cv_metrics"],
        test_metrics=doc["test_metrics"],
        test_at_half=doc["test_at_0.5"],
        test_scores=model.predict_proba(data.test.x)[:, 1],
        oof_scores=np.load(work_dir / "model" / "oof_scores.npy"),
    )


# --------------------------------------------------------------------------- stage 3b
SLICES_FILE = Path("model") / "slices.json"


def evaluate_stage(
    dataset_dir: Path,
    work_dir: Path,
    trained: Trained,
    features: FeatureArtifacts,
    reputation: ReputationSource,
    *,
    seed: int = 42,
    nthread: int = 1,
) -> dict[str, Any]:
    """The test split by sender history in both forms (``spam_trainer.slices``) and the
    sender-disjoint evaluation (the same recipe retrained on a sender/domain-grouped split),
    at the served threshold -> ``model/slices.json``."""
    from spam_core.ingest import load_manifest
    from spam_trainer import slices
    from spam_trainer.features import FitInfo, fit_on_records

    def score(matrix: np.ndarray) -> np.ndarray:
        return trained.model.predict_proba(matrix)[:, 1]

    extractor = FeatureExtractor(features)
    records, labels = read_records(dataset_dir, split="test")
    y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
    forms = slices.form_matrices(records, y, extractor, reputation)
    test = slices.evaluate_slices(forms, score, trained.threshold)

    everything, every_label = [], []
    for split in ("train", "validation", "test"):
        recs, labs = read_records(dataset_dir, split=split)
        everything += recs
        every_label += [lab == "spam" for lab in labs]
    grouped = slices.disjoint_split(everything, np.array(every_label))
    fitted = fit_on_records(
        grouped.train,
        grouped.train_y,
        reputation,
        FitInfo(
            dataset=f"{dataset_dir} (sender-disjoint training side)",
            dataset_fingerprint=load_manifest(dataset_dir).fingerprint,
            n_documents=len(grouped.train),
        ),
    )
    # the final content trees' parameters, as train_stage recorded them
    params = json.loads((work_dir / "model" / "training.json").read_text())["params"]
    params |= {"missing": np.nan, "n_jobs": nthread, "random_state": seed}

    def fit(x: np.ndarray, y_fit: np.ndarray):
        content = fit_content(without_history(x), y_fit, params, trained.n_estimators)
        return lambda m: content.predict_proba(without_history(m))[:, 1]

    disjoint = slices.evaluate_disjoint(
        grouped, FeatureExtractor(fitted), reputation, fit, trained.threshold
    )
    recent = evaluate_recent(dataset_dir, score, trained.threshold, extractor, reputation)
    doc = {
        "threshold": trained.threshold,
        "test": test,
        "sender_disjoint": disjoint,
        "sender_disjoint_split": {
            "group": "sender domain (else address)",
            "test_share": slices.DISJOINT_TEST_SHARE,
            "train": len(grouped.train),
            "test": len(grouped.test),
            "train_groups": grouped.train_groups,
            "test_groups": grouped.test_groups,
            "features": "refit on the training side",
        },
    }
    if recent is not None:  # the recent feedback slice (spam_trainer.feedback_data)
        doc["recent_feedback"] = recent
    path = work_dir / SLICES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, default=float) + "\n")
    return doc


def load_slices(work_dir: Path) -> dict[str, Any] | None:
    path = work_dir / SLICES_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def slice_metrics(sliced: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics: ``slice_<form>_<slice>_<metric>``, ``disjoint_<form>_all_<metric>``,
    ``recent_feedback_reported_<all|cold>_<metric>``."""
    from spam_trainer.slices import flat_metrics

    return (
        flat_metrics(sliced["test"], "slice")
        | flat_metrics(sliced["sender_disjoint"], "disjoint")
        | flat_metrics(sliced.get("recent_feedback") or {}, "recent_feedback")
    )


def slice_table(sliced: dict[str, Any]):
    """One row per (evaluation, form, slice): the MLflow table and the printed summary."""
    import pandas as pd

    from spam_trainer.slices import table_rows

    return pd.DataFrame(
        table_rows(sliced["test"], "test split")
        + table_rows(sliced["sender_disjoint"], "sender-disjoint")
        + table_rows(sliced.get("recent_feedback") or {}, "recent feedback")
    )


def gated_slices(sliced: dict[str, Any] | None) -> dict[str, float]:
    """What the cold-start gate reads: the unknown-sender ham false-positive rate, the worse
    of the two forms on the ``cold`` slice (NaN when not measured: the gate then fails)."""
    if sliced is None:
        return {"cold_ham_fpr": float("nan")}
    return {"cold_ham_fpr": max(sliced["test"][f]["cold"]["ham_fpr"] for f in ("raw", "fields"))}


# --------------------------------------------------------------------------- stage 4
def export_stage(
    work_dir: Path,
    trained: Trained,
    features: FeatureArtifacts,
    data: Matrices,
    *,
    model_name: str,
    log: Log = _quiet,
) -> tuple[Path, float]:
    """ONNX (parity-checked on the test split), Triton repository, bundle.json."""
    from spam_trainer.triton import write_model_repository

    out = work_dir / "bundle"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    feature_artifacts.save(features, out / FEATURES_FILE)
    proto = to_onnx(trained.model)
    parity = check_parity(trained.model, proto, data.test.x)
    log(f"ONNX parity on {parity.n_rows} test rows: max |dp| = {parity.max_abs_diff:.2e}")
    onnx_bytes = proto.SerializeToString()
    (out / ONNX_FILE).write_bytes(onnx_bytes)
    trained.model.save_model(out / XGBOOST_FILE)
    write_model_repository(onnx_bytes, out / TRITON_DIR, model_name=model_name)
    params = {
        k: v
        for k, v in trained.model.get_params().items()
        if isinstance(v, int | float | str)
        and not isinstance(v, bool)
        and not (isinstance(v, float) and np.isnan(v))
    }
    metrics = {f"test_{k}": v for k, v in trained.test_metrics.items() if np.isfinite(v)}
    metrics["onnx_parity_max_abs_diff"] = parity.max_abs_diff
    write_meta(
        out,
        BundleMeta(
            model_name=model_name,
            model_version="unregistered",
            created_at=datetime.now(UTC),
            feature_set=FEATURE_SET_VERSION,
            features_fingerprint=features.fingerprint,
            n_features=len(features.feature_names),
            onnx_sha256=sha256_bytes(onnx_bytes),
            threshold=trained.threshold,
            threshold_rule=THRESHOLD_RULE,
            metrics=metrics,
            params=params,
        ),
    )
    return out, parity.max_abs_diff


# --------------------------------------------------------------------------- stage 5
def baseline_stage(
    work_dir: Path,
    trained: Trained,
    features: FeatureArtifacts,
    data: Matrices,
    reputation_stats: Path,
) -> Path:
    """Every reference as serving computes it. Content features: the training split, but the
    linear text margin from the validation e-mails (the training rows carry cross-fitted
    margins of models that saw 4/5 of the split; served e-mails, like the validation ones, get
    the fitted model's); reputation features: the validation e-mails as serving sees them
    (end-of-history totals, ``serving_reputation``: outside the history, so like new mail
    from those senders); scores: the served model's scores of the held-out test e-mails, with
    their reputation as serving sees it. The fold models' out-of-fold scores are no reference
    for the served model: trained on 4/5 of the rows they score less extremely, and normal
    traffic differed from them by KS 0.11 (adjusted p 1e-05: drift on every normal window).
    The test e-mails are the only ones the final model never trained on; the reference takes
    no part in choosing the model or its threshold."""
    from spam_core.features.spec import LINEAR_NAMES, REPUTATION_NAMES

    index = {name: i for i, name in enumerate(features.feature_names)}
    reputation = [index[name] for name in REPUTATION_NAMES]
    serving = serving_reputation(reputation_stats, data.validation.ids)
    columns = dict(zip(REPUTATION_NAMES, serving.T, strict=True))
    columns |= {name: data.validation.x[:, index[name]] for name in LINEAR_NAMES}
    served_test = data.test.x.copy()
    served_test[:, reputation] = serving_reputation(reputation_stats, data.test.ids)
    baseline = build_baseline(
        data.train.x,
        features.feature_names,
        labels=data.train.y,
        scores=trained.model.predict_proba(served_test)[:, 1],
        score_split="test (served model)",
        threshold=trained.threshold,
        feature_set=FEATURE_SET_VERSION,
        features_fingerprint=features.fingerprint,
        created_at=datetime.now(UTC),
        columns=columns,
    )
    path = work_dir / "bundle" / BASELINE_FILE
    path.write_text(json.dumps(baseline.model_dump(mode="json")) + "\n")
    return path


# --------------------------------------------------------------------------- stage 6
@dataclass
class Registration:
    run_id: str
    version: str | None
    staging: bool
    gate_failures: list[str]


def register_stage(
    work_dir: Path,
    *,
    dataset_dir: Path,
    settings: Any,
    tune: TuneSettings,
    register: bool = True,
    gates: Any = None,
    timings: dict[str, float] | None = None,
) -> Registration:
    """One MLflow run with params, metrics, trial table, pictures and artifacts; register the
    pyfunc model (bundle attached); alias ``staging`` if the quality gates pass."""
    import mlflow

    from spam_trainer.registry import Gates, apply_staging_gate, configure_mlflow, log_and_register

    manifest = load_manifest(dataset_dir)
    bundle = work_dir / "bundle"
    meta = read_meta(bundle)
    training = json.loads((work_dir / "model" / "training.json").read_text())
    tuned = json.loads((work_dir / "tune" / "tune.json").read_text())
    configure_mlflow(settings)
    with mlflow.start_run(run_name=f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}") as run:
        mlflow.log_params(
            {
                **tuned["best_config"],
                "n_estimators_final": training["n_estimators"],
                "trials": tuned["trials"],
                "cpus": tune.cpus,
                "seed": tune.seed,
                "feature_set": FEATURE_SET_VERSION,
                "features_fingerprint": meta.features_fingerprint,
                "dataset_fingerprint": manifest.fingerprint,
                "dataset_source": manifest.source[:500],
                "threshold_rule": THRESHOLD_RULE,
                "cv_folds": CV_FOLDS,
            }
        )
        metrics = {
            **{f"test_{k}": v for k, v in training["test_metrics"].items()},
            **{f"cv_{k}": v for k, v in training["cv_metrics"].items()},
            **{
                f"test_at_0.5_{k}": training["test_at_0.5"][k]
                for k in ("precision", "recall", "f1")
            },
            "tune_best_val_logloss": tuned["best_val_logloss"],
            "tune_best_val_auc": tuned["best_val_auc"],
            "tune_seconds": tuned["seconds"],
            "onnx_parity_max_abs_diff": meta.metrics["onnx_parity_max_abs_diff"],
            **{f"time_{k}": v for k, v in (timings or {}).items()},
        }
        sliced = load_slices(work_dir)
        if sliced is not None:
            metrics |= slice_metrics(sliced)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.set_tags({"feature_set": FEATURE_SET_VERSION, "model_name": meta.model_name})
        for png in sorted((work_dir / "model" / "plots").glob("*.png")):
            mlflow.log_artifact(str(png), artifact_path="plots")
        mlflow.log_artifact(str(work_dir / "tune" / "trials.csv"), artifact_path="tune")
        import pandas as pd

        mlflow.log_table(
            pd.read_csv(work_dir / "tune" / "trials.csv"), artifact_file="tune/trials.json"
        )
        if sliced is not None:
            mlflow.log_table(slice_table(sliced), artifact_file="evaluation/slices.json")
            # the whole document next to the table (under its own name: the table's would be
            # overwritten)
            mlflow.log_text((work_dir / SLICES_FILE).read_text(), "evaluation/slices_doc.json")
        log_feedback(dataset_dir)  # feedback rows in the dataset: counts, rules, feedback.json
        mlflow.log_artifact(str(bundle / FEATURES_FILE), artifact_path="features")
        mlflow.log_artifact(str(bundle / BASELINE_FILE), artifact_path="drift")
        mlflow.log_artifact(str(bundle / ONNX_FILE), artifact_path="onnx")
        mlflow.log_artifacts(str(bundle / TRITON_DIR), artifact_path="triton")
        meta.run_id = run.info.run_id
        write_meta(bundle, meta)
        version, _ = log_and_register(bundle, settings=settings, register=register)
        staging, failures = False, []
        if version is not None:
            decision = apply_staging_gate(
                version,
                {**training["test_metrics"], **gated_slices(sliced)},
                gates or Gates(),
                settings,
            )
            staging, failures = decision.moved, ([] if decision.moved else decision.reasons)
            mlflow.set_tag("registered_version", version)
            mlflow.set_tag("staging_alias", "yes" if staging else "no (gates failed)")
    return Registration(run.info.run_id, version, staging, failures)


# --------------------------------------------------------------------------- all stages
@dataclass
class TrainOptions:
    dataset_dir: Path
    out_dir: Path
    tune: TuneSettings
    feast_repo: Path | None = None
    """Feast repository for the reputation history (None: a private one in the work dir,
    point-in-time retrieval only, no online store updated)."""
    model_name: str = "spam-detector"
    register: bool = True
    gates: Any = None
    """``registry.Gates``; None: defaults."""
    on_trial_done: Callable[[int, int], None] | None = None
    log: Log = _quiet
    feedback: FeedbackOptions | None = None
    """Feedback-labeled e-mails as training data next to the corpus
    (``spam_trainer.feedback_data``); None: the corpus only."""


@dataclass
class TrainResult:
    work_dir: Path
    registration: Registration
    trained: Trained
    tune: TuneOutcome
    parity_max_abs_diff: float
    seconds: dict[str, float]
    slices: dict[str, Any] = field(default_factory=dict)
    """``model/slices.json``: the test split by sender history, the sender-disjoint split, the
    recent feedback slice."""
    feedback: Any = None
    """``feedback_data.FeedbackSummary`` when feedback was read."""


def train(opts: TrainOptions, settings: Any) -> TrainResult:
    """All stages in one process, on an ingested dataset."""
    timings: dict[str, float] = {}
    t0 = t = time.perf_counter()
    work = opts.out_dir
    work.mkdir(parents=True, exist_ok=True)
    dataset_dir, feedback = opts.dataset_dir, None
    if opts.feedback is not None:  # the corpus + feedback e-mails (spam_trainer.feedback_data)
        feedback = feedback_stage(opts.dataset_dir, work, opts.feedback, log=opts.log)
        dataset_dir = Path(feedback.dataset_dir or opts.dataset_dir)
        timings["feedback_s"] = time.perf_counter() - t
        t = time.perf_counter()
    rep = reputation_stage(
        dataset_dir,
        work,
        opts.feast_repo or work / "reputation" / "feast",
        online=opts.feast_repo is not None,
    )
    timings["reputation_s"] = time.perf_counter() - t
    opts.log(
        f"reputation (Feast {rep.feast_repo}): {rep.senders} senders, {rep.domains} domains; "
        f"test e-mails with sender history {rep.known_sender_fraction['test']:.0%}"
        + ("; online store updated" if rep.materialized else "")
    )
    t = time.perf_counter()
    reputation = load_reputation(work)
    features = features_stage(dataset_dir, work, reputation)
    data = build_matrices(dataset_dir, features, reputation)
    timings["features_s"] = time.perf_counter() - t
    opts.log(
        f"features {features.fingerprint[:12]}: train {len(data.train.y)}, validation "
        f"{len(data.validation.y)}, test {len(data.test.y)} e-mails"
    )
    t = time.perf_counter()
    outcome = tune_stage(data, opts.tune, work, opts.on_trial_done)
    timings["tune_s"] = time.perf_counter() - t
    opts.log(
        f"Ray Tune: {len(outcome.trials)} trials in {outcome.seconds:.0f} s; best val "
        f"log-loss {outcome.best_val_logloss:.4f}, ROC-AUC {outcome.best_val_auc:.5f}"
    )
    t = time.perf_counter()
    trained = train_stage(data, outcome, opts.tune, work, features, nthread=opts.tune.cpus)
    timings["final_fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sliced = evaluate_stage(
        dataset_dir,
        work,
        trained,
        features,
        reputation,
        seed=opts.tune.seed,
        nthread=opts.tune.cpus,
    )
    timings["slices_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _, parity = export_stage(
        work, trained, features, data, model_name=opts.model_name, log=opts.log
    )
    baseline_stage(work, trained, features, data, work)
    timings["export_s"] = time.perf_counter() - t
    t = time.perf_counter()
    registration = register_stage(
        work,
        dataset_dir=dataset_dir,
        settings=settings,
        tune=opts.tune,
        register=opts.register,
        gates=opts.gates,
        timings=dict(timings),
    )
    timings["register_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    return TrainResult(work, registration, trained, outcome, parity, timings, sliced, feedback)
