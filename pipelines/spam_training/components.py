"""The eight steps of ``spam-training``, one KFP lightweight Python component each.

Every body is a thin call into ``spam_trainer.train`` / ``spam_trainer.reputation``: the very
stage functions that ``spam-platform train`` chains in one process (the Feast pattern: the
pipeline calls exactly what the CLI calls). The stages read and write one working-directory
layout (``reputation/stats.parquet``, ``features.json``, ``tune/``, ``model/``, ``bundle/``); a
step lays that directory out in a temporary folder from its input artifacts (symlinks; copies
where the stage writes), runs its stage, and copies its product into its output artifact:

=============== ======================================= ====================================
step            inputs                                  output artifacts
=============== ======================================= ====================================
ingest          corpus (parameter)                      dataset: emails.parquet + manifest
feedback        dataset, feedback_log,                  dataset: the corpus dataset plus the
                feedback_recent_days                    feedback log's labeled e-mails
                                                        (``spam_trainer.feedback_data``), or
                                                        the corpus dataset as is
reputation      dataset, feast_repo, feast_history      stats: point-in-time sender/domain
                                                        history of every e-mail (Parquet
                                                        file); the online store, if any
features        dataset, stats                          features: features.json (file)
tune            dataset, features, stats                tuning: tune.json + trials.csv
train-evaluate  dataset, features, stats, tuning        model: xgboost.json, training.json,
                                                        oof_scores.npy, plots/; metrics (test
                                                        split); curves (ROC + confusion);
                                                        plots (HTML)
export          dataset, features, stats, model         bundle: model.onnx, triton/, ...
baseline        dataset, features, stats, model         baseline: drift_baseline.json (file)
register        dataset, tuning, model, bundle,         registered_bundle: the bundle as
                baseline                                logged to MLflow (run id, baseline)
=============== ======================================= ====================================

Every step that builds feature matrices reads the same ``stats`` artifact
(``load_reputation``), so the reputation columns of training, evaluation, export parity and
the drift baseline are the one point-in-time retrieval.

Rules for these functions (KFP embeds each one's source in the compiled YAML and runs it in
the trainer image): imports inside the body; annotations only from ``kfp.dsl`` / ``typing``
(the embedded module starts with ``from kfp.dsl import *`` and ``from typing import *``); no
``from __future__ import annotations`` in this module; shared code only through
``additional_funcs`` (``_work_dir``). :func:`make_components` turns them into components.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Metrics,
    Model,
    Output,
)
from kfp.dsl.python_component import PythonComponent


def _work_dir(root: str, entries: dict) -> str:
    """Lay out train.py's working directory in ``root``: one symlink per input artifact
    (``{"features.json": path, "model": path, ...}``); returns ``root``."""
    import os

    for name, target in entries.items():
        os.symlink(os.path.abspath(target), os.path.join(root, name))
    return root


def ingest(corpus: str, dataset: Output[Dataset]):
    """Read the corpus (archives, message tree, maildir, mbox or https:// base URL) into a
    Parquet dataset + manifest with the deterministic train/validation/test split."""
    from spam_core.ingest import ingest as ingest_corpus
    from spam_core.settings import get_settings

    manifest = ingest_corpus(corpus, dataset.path, cache_dir=get_settings().resolved_cache_dir)
    dataset.metadata.update(
        {
            "source": manifest.source,
            "fingerprint": manifest.fingerprint,
            "messages": manifest.totals.messages,
            "spam": manifest.totals.spam,
            "ham": manifest.totals.ham,
            "splits": {name: split.messages for name, split in manifest.splits.items()},
        }
    )
    print(f"ingested {manifest.totals.messages} messages ({manifest.spam_rate:.1%} spam)")


def feedback(
    corpus_dataset: Input[Dataset],
    feedback_log: str,
    feedback_recent_days: float,
    dataset: Output[Dataset],
):
    """The training data: the corpus dataset plus the feedback log's labeled e-mails
    (``spam_trainer.feedback_data.assemble_dataset``: train / validation rows with source
    ``feedback``, de-duplicated against the corpus, the corpus test split untouched, the
    recent slice of ``feedback_recent_days`` held out). ``feedback_log``: the gateway's
    feedback log (``abfs://...`` or a path in the pod; it must exist); empty: the corpus
    dataset as is. Never cached: the log grows between runs under the same URL."""
    import json
    import shutil
    from pathlib import Path

    from spam_trainer.feedback_data import assemble_dataset, describe

    summary = None
    if feedback_log:
        summary = assemble_dataset(
            Path(corpus_dataset.path),
            feedback_log,
            Path(dataset.path),
            recent_days=feedback_recent_days,
            require=True,
        )
        print(describe(summary))
    if summary is None or summary.dataset_dir is None:
        shutil.copytree(corpus_dataset.path, dataset.path, dirs_exist_ok=True)
    dataset.metadata.update(
        {
            "feedback_log": feedback_log,
            "feedback_rows": {} if summary is None else summary.rows,
            "feedback_in_corpus": 0 if summary is None else summary.in_corpus,
            "feedback_recent_since": "" if summary is None else summary.recent_since or "",
        }
    )
    if summary is not None:
        print(json.dumps(summary.log))


def reputation(
    dataset: Input[Dataset], feast_repo: str, feast_history: str, stats: Output[Artifact]
):
    """Sender / sender-domain reputation through the Feast feature store
    (``spam_trainer.reputation.reputation_stage``): the train split's labeled e-mails become
    running totals per sender address and per sender domain, applied to the store; every
    e-mail of every split gets the totals of the train e-mails sent strictly before it
    (point-in-time retrieval, never its own label). ``stats`` is that table (Parquet: email_id,
    split, sender_messages, sender_spam, domain_messages, domain_spam), the input of every
    later step that builds feature matrices.

    ``feast_repo``: path, inside the container, of an existing Feast repository (a directory
    with ``feature_store.yaml``): the chart's, mounted by the pipeline at
    ``/etc/spam-platform/feast`` from the ``feast_config_map`` ConfigMap with the Redis
    password of ``feast_redis_secret`` (``spam_trainer.reputation.prepare_repo`` composes the
    connection string the way the chart's pods get it). The history is applied to its registry
    and the latest totals are materialized into its online store, where the transformer,
    batch scoring and the gateway's feedback read them. A path without a
    ``feature_store.yaml`` fails the step (a repository created inside a pod would vanish with
    it). Empty string: a private SQLite repository in the step's temporary directory, thrown
    away afterwards: point-in-time retrieval only, **no online store is updated** (serving
    keeps the history it had; the model trained here then sees no reputation history in
    production until an online store is loaded, e.g. by a run with ``feast_repo`` set or by
    ``spam-platform train``).

    ``feast_history``: where the offline history goes, the sources the registry then names
    (``abfs://<datasets>@<account>.dfs.core.windows.net/feast/history`` with the chart: the
    scheduled materialization reads them after this pod is gone). Empty: the step's temporary
    directory.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from spam_trainer.reputation import STATS_FILE, prepare_repo, reputation_stage

    with tempfile.TemporaryDirectory(prefix="spam-reputation-") as tmp:
        work = Path(tmp)
        repo = prepare_repo(Path(feast_repo), work / "repo") if feast_repo else work / "feast"
        summary = reputation_stage(
            Path(dataset.path),
            work,
            repo,
            online=bool(feast_repo),
            history_dir=feast_history or None,
        )
        shutil.copyfile(work / STATS_FILE, stats.path)
    stats.metadata.update(
        {
            "feast_repo": feast_repo,
            "feast_history": feast_history,
            "online_store_updated": summary.materialized,
            "senders": summary.senders,
            "domains": summary.domains,
            "history_rows": summary.history_rows,
            "known_sender_fraction": {
                split: round(float(v), 4) for split, v in summary.known_sender_fraction.items()
            },
        }
    )
    where = f"Feast repository {feast_repo}" if feast_repo else "a private SQLite repository"
    print(
        f"reputation ({where}): {summary.senders} senders, {summary.domains} domains, "
        f"{summary.history_rows} history rows; test e-mails with sender history "
        f"{summary.known_sender_fraction['test']:.0%}"
        + ("; online store updated" if summary.materialized else "; no online store updated")
    )


def features(dataset: Input[Dataset], reputation: Input[Artifact], features: Output[Artifact]):
    """Fit the feature artifacts (vocabulary, IDF, statistics) on the training split."""
    import shutil
    import tempfile
    from pathlib import Path

    from spam_core.bundle import FEATURES_FILE
    from spam_trainer.reputation import load_reputation
    from spam_trainer.train import features_stage

    stats = load_reputation(Path(reputation.path))
    with tempfile.TemporaryDirectory(prefix="spam-features-") as tmp:
        fitted = features_stage(Path(dataset.path), Path(tmp), stats)
        shutil.copyfile(Path(tmp) / FEATURES_FILE, features.path)
    features.metadata.update(
        {
            "fingerprint": fitted.fingerprint,
            "n_features": len(fitted.feature_names),
            "n_documents": fitted.fitted_on.n_documents,
        }
    )
    print(f"features {fitted.fingerprint[:12]}: {len(fitted.feature_names)} features")


def tune(
    dataset: Input[Dataset],
    features: Input[Artifact],
    reputation: Input[Artifact],
    trials: int,
    cpus: str,
    seed: int,
    max_rounds: int,
    ray_address: str,
    tuning: Output[Artifact],
):
    """Ray Tune search over XGBoost hyper-parameters (early stopping on the validation split).

    ``cpus`` is a string because it also sets this step's CPU request and limit (the KFP
    driver resolves resource placeholders from string parameters only). ``ray_address``: the
    Ray cluster the trials run on (``host:port`` or ``ray://host:port``); empty: an embedded
    Ray of ``cpus`` CPUs inside this pod."""
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from spam_core import artifacts
    from spam_trainer.reputation import load_reputation
    from spam_trainer.train import build_matrices, tune_stage
    from spam_trainer.tune import TuneSettings

    settings = TuneSettings(
        trials=trials,
        cpus=int(cpus),
        seed=seed,
        max_rounds=max_rounds,
        ray_address=ray_address or None,
    )
    fitted = artifacts.load(Path(features.path))
    data = build_matrices(Path(dataset.path), fitted, load_reputation(Path(reputation.path)))
    with tempfile.TemporaryDirectory(prefix="spam-tune-") as tmp:
        outcome = tune_stage(data, settings, Path(tmp))
        shutil.copytree(Path(tmp) / "tune", tuning.path)
    tuning.metadata.update(
        {
            "trials": len(outcome.trials),
            "best_val_logloss": float(outcome.best_val_logloss),
            "best_val_auc": float(outcome.best_val_auc),
            "best_config": json.loads(json.dumps(outcome.best_config, default=float)),
            "seconds": float(outcome.seconds),
        }
    )
    print(
        f"Ray Tune: {len(outcome.trials)} trials in {outcome.seconds:.0f} s; best val "
        f"log-loss {outcome.best_val_logloss:.4f}, ROC-AUC {outcome.best_val_auc:.5f}"
    )


def train_evaluate(
    dataset: Input[Dataset],
    features: Input[Artifact],
    reputation: Input[Artifact],
    tuning: Input[Artifact],
    model: Output[Model],
    metrics: Output[Metrics],
    curves: Output[ClassificationMetrics],
    plots: Output[HTML],
):
    """Final model on train + validation with the tuned configuration, threshold from
    out-of-fold scores, evaluation on the untouched test split."""
    import base64
    import math
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np
    from sklearn.metrics import roc_curve

    from spam_core import artifacts
    from spam_trainer.reputation import load_reputation
    from spam_trainer.train import (
        build_matrices,
        evaluate_stage,
        load_tune,
        load_tune_settings,
        train_stage,
    )

    fitted = artifacts.load(Path(features.path))
    stats = load_reputation(Path(reputation.path))
    data = build_matrices(Path(dataset.path), fitted, stats)
    with tempfile.TemporaryDirectory(prefix="spam-train-") as tmp:
        work = Path(_work_dir(tmp, {"tune": tuning.path}))
        # the settings the search ran with (seed, early stopping, cpus), as `train` passes them
        settings = load_tune_settings(work)
        trained = train_stage(data, load_tune(work), settings, work, fitted, nthread=settings.cpus)
        # slices by sender history + the sender-disjoint split (+ the recent feedback slice)
        # -> model/slices.json (gated)
        sliced = evaluate_stage(
            Path(dataset.path),
            work,
            trained,
            fitted,
            stats,
            seed=settings.seed,
            nthread=settings.cpus,
        )
        shutil.copytree(work / "model", model.path)

    m = trained.test_metrics
    for name, value in m.items():
        if math.isfinite(value):
            metrics.log_metric(f"test_{name}", float(value))
    recent = (sliced.get("recent_feedback") or {}).get("reported", {}).get("all", {})
    for name, value in recent.items():  # the recent feedback slice, when the data holds one
        if math.isfinite(value):
            metrics.log_metric(f"recent_feedback_{name}", float(value))
    model.metadata.update(
        {
            "framework": "xgboost",
            "n_estimators": int(trained.n_estimators),
            "threshold": float(trained.threshold),
        }
    )
    curves.log_confusion_matrix(
        ["ham", "spam"],
        [[int(m["tn"]), int(m["fp"])], [int(m["fn"]), int(m["tp"])]],
    )
    fpr, tpr, thresholds = roc_curve(data.test.y, trained.test_scores)
    curves.log_roc_curve(fpr.tolist(), tpr.tolist(), np.minimum(thresholds, 1.0).tolist())
    sections = [
        f"<h2>{png.stem.replace('_', ' ')}</h2><img alt='{png.stem}' "
        f"src='data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}'>"
        for png in sorted((Path(model.path) / "plots").glob("*.png"))
    ]
    Path(plots.path).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>spam-detector: test split"
        "</title></head><body>" + "".join(sections) + "</body></html>\n"
    )
    print(
        f"test split ({int(m['n'])} e-mails) @ threshold {trained.threshold:.3f}: "
        f"ROC-AUC {m['roc_auc']:.5f}, precision {m['precision']:.4f}, "
        f"recall {m['recall']:.4f}, F1 {m['f1']:.4f}"
    )


def export(
    dataset: Input[Dataset],
    features: Input[Artifact],
    reputation: Input[Artifact],
    model: Input[Model],
    model_name: str,
    bundle: Output[Model],
):
    """ONNX export (parity-checked on the test split), Triton model repository, bundle.json."""
    import shutil
    import tempfile
    from pathlib import Path

    from spam_core import artifacts
    from spam_trainer.reputation import load_reputation
    from spam_trainer.train import build_matrices, export_stage, load_trained

    fitted = artifacts.load(Path(features.path))
    data = build_matrices(Path(dataset.path), fitted, load_reputation(Path(reputation.path)))
    with tempfile.TemporaryDirectory(prefix="spam-export-") as tmp:
        work = Path(_work_dir(tmp, {"model": model.path}))
        trained = load_trained(work, data)
        out, parity = export_stage(work, trained, fitted, data, model_name=model_name, log=print)
        shutil.copytree(out, bundle.path)
    bundle.metadata.update(
        {
            "model_name": model_name,
            "framework": "onnx",
            "onnx_parity_max_abs_diff": float(parity),
            "threshold": float(trained.threshold),
        }
    )


def baseline(
    dataset: Input[Dataset],
    features: Input[Artifact],
    reputation: Input[Artifact],
    model: Input[Model],
    baseline: Output[Artifact],
):
    """Drift baseline: content features of the training split, reputation of the validation
    e-mails as serving sees them, the served model's scores of the test e-mails."""
    import shutil
    import tempfile
    from pathlib import Path

    from spam_core import artifacts
    from spam_trainer.reputation import load_reputation
    from spam_trainer.train import baseline_stage, build_matrices, load_trained

    fitted = artifacts.load(Path(features.path))
    data = build_matrices(Path(dataset.path), fitted, load_reputation(Path(reputation.path)))
    with tempfile.TemporaryDirectory(prefix="spam-baseline-") as tmp:
        work = Path(_work_dir(tmp, {"model": model.path}))
        (work / "bundle").mkdir()
        path = baseline_stage(work, load_trained(work, data), fitted, data, Path(reputation.path))
        shutil.copyfile(path, baseline.path)
    baseline.metadata.update({"features_fingerprint": fitted.fingerprint})


def register(
    dataset: Input[Dataset],
    tuning: Input[Artifact],
    model: Input[Model],
    bundle: Input[Model],
    baseline: Input[Artifact],
    model_name: str,
    mlflow_tracking_uri: str,
    mlflow_experiment: str,
    register: bool,
    gate_f1_min: float,
    gate_roc_auc_min: float,
    gate_cold_fpr_max: float,
    publish_url: str,
    registered_bundle: Output[Model],
) -> NamedTuple(
    "Registration",
    [("run_id", str), ("model_version", str), ("staging", bool), ("gate_failures", str)],
):
    """One MLflow run (params, metrics, trial table, plots, artifacts); register the model;
    alias ``staging`` when the quality gates pass. ``model_version`` is empty when
    ``register`` is false; ``gate_failures`` is empty when the gates passed. With
    ``publish_url``, a version that passed the gates is also published there
    (``spam_trainer.publish``: where the chart's InferenceServices read it), verified."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from spam_core.bundle import BASELINE_FILE
    from spam_trainer.registry import Gates
    from spam_trainer.settings import TrainerSettings
    from spam_trainer.train import load_tune_settings, register_stage

    if mlflow_tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow_tracking_uri
    settings = TrainerSettings(model_name=model_name, experiment=mlflow_experiment)
    with tempfile.TemporaryDirectory(prefix="spam-register-") as tmp:
        work = Path(_work_dir(tmp, {"tune": tuning.path, "model": model.path}))
        # a writable copy: the stage records the run id in bundle.json; the drift baseline
        # joins the bundle as in `spam-platform train`
        shutil.copytree(bundle.path, work / "bundle", copy_function=shutil.copyfile)
        shutil.copyfile(baseline.path, work / "bundle" / BASELINE_FILE)
        result = register_stage(
            work,
            dataset_dir=Path(dataset.path),
            settings=settings,
            tune=load_tune_settings(work),
            register=register,
            gates=Gates(
                f1_min=gate_f1_min, roc_auc_min=gate_roc_auc_min, cold_fpr_max=gate_cold_fpr_max
            ),
        )
        shutil.copytree(work / "bundle", registered_bundle.path)
        if publish_url and result.staging:
            from spam_trainer.publish import publish_bundle

            published = publish_bundle(
                work / "bundle",
                publish_url,
                model_name=model_name,
                version=str(result.version),
                run_id=result.run_id,
            )
            print(
                f"published v{result.version} -> {published.url} "
                f"({len(published.uploaded)} uploaded, {published.verified} verified)"
            )
    failures = "; ".join(result.gate_failures)
    registered_bundle.metadata.update(
        {
            "model_name": model_name,
            "mlflow_run_id": result.run_id,
            "model_version": result.version or "",
            "staging": result.staging,
        }
    )
    if result.version is None:
        print(f"MLflow run {result.run_id}; model not registered")
    elif result.staging:
        print(f"registered {model_name} v{result.version} -> alias staging")
    else:
        print(f"registered {model_name} v{result.version}; quality gates not met: {failures}")
    return (result.run_id, result.version or "", result.staging, failures)


STEPS = (ingest, feedback, reputation, features, tune, train_evaluate, export, baseline, register)
"""The step functions, in pipeline order."""

_USES_WORK_DIR = (train_evaluate, export, baseline, register)


def make_components(image: str) -> dict[str, PythonComponent]:
    """The step functions as lightweight components running ``image`` (the trainer image,
    which has spam_core, spam_trainer and kfp installed: nothing is pip-installed)."""
    return {
        func.__name__: dsl.component(
            func,
            base_image=image,
            install_kfp_package=False,
            additional_funcs=[_work_dir] if func in _USES_WORK_DIR else None,
        )
        for func in STEPS
    }
