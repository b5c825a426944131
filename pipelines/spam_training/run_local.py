"""Run ``spam-training`` on this machine with ``kfp.local`` (no cluster, no Docker).

    uv run python -m pipelines.spam_training.run_local --corpus ../shared/data/spamassassin \\
        --trials 2 --max-rounds 100

Every step runs as a subprocess of this Python (``SubprocessRunner(use_venv=False)``: the
workspace environment already has spam_core, spam_trainer and kfp, exactly what the trainer
image has), so a local run executes the same component code as a cluster run. Outputs land
in ``--out`` (default ``$SPAM_HOME/pipeline-runs``): one folder per run, one per step, one per
artifact. MLflow: ``--mlflow-tracking-uri``, default ``$MLFLOW_TRACKING_URI`` else the local
SQLite store ``spam-platform train`` uses. Resource requests, retries and caching are
ignored locally (kfp.local has none of them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from pipelines.spam_training.pipeline import build_pipeline

# kfp.local warns for any base image whose name lacks "python"; the trainer image is Python
_IMAGE_WARNING = "You may be attemping to run a task that uses custom or non-Python base image"


def run_local(out_dir: Path, **params: Any):
    """Run the pipeline with ``params`` (its parameters); outputs under ``out_dir``.

    Returns the finished pipeline task: ``.outputs["model_version"]``, ``["staging"]``,
    ``["run_id"]``, ``["gate_failures"]``, ``["metrics"]`` and ``["bundle"]`` (artifacts with a
    local ``.path``). Raises ``RuntimeError`` if a step fails.
    """
    from kfp import local

    out_dir = Path(out_dir).resolve()
    (out_dir / "workspace").mkdir(parents=True, exist_ok=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(out_dir),
        workspace_root=str(out_dir / "workspace"),
        raise_on_error=True,
    )
    if "cpus" in params:
        params["cpus"] = str(params["cpus"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_IMAGE_WARNING, category=RuntimeWarning)
        return build_pipeline()(**params)


def _defaults() -> tuple[str, str, Path]:
    from spam_trainer.settings import get_trainer_settings

    settings = get_trainer_settings()
    return (
        settings.resolved_corpus(),
        settings.tracking_uri(),
        settings.home / "pipeline-runs",
    )


def main(argv: list[str] | None = None) -> int:
    corpus, tracking_uri, out = _defaults()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--corpus", default=corpus, help="corpus source (what `ingest` reads)")
    p.add_argument("--trials", type=int, default=20, help="Ray Tune trials")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs for Ray Tune")
    p.add_argument("--seed", type=int, default=42, help="seed of the search and every fit")
    p.add_argument("--max-rounds", type=int, default=1000, help="upper bound of boosting rounds")
    p.add_argument("--model-name", default="spam-detector", help="registered model name")
    p.add_argument("--mlflow-tracking-uri", default=tracking_uri, help="MLflow tracking URI")
    p.add_argument("--mlflow-experiment", default="spam-detector", help="MLflow experiment")
    p.add_argument("--no-register", action="store_true", help="an MLflow run only")
    p.add_argument("--gate-f1-min", type=float, default=0.95, help="gate for alias staging")
    p.add_argument("--gate-roc-auc-min", type=float, default=0.99, help="gate for staging")
    p.add_argument(
        "--gate-cold-fpr-max", type=float, default=0.005, help="gate: unknown-sender ham FPR"
    )
    p.add_argument(
        "--feast-repo",
        default="",
        help="Feast repository the reputation step updates ('': private)",
    )
    p.add_argument(
        "--feast-history", default="", help="offline history location ('': the step's temp dir)"
    )
    p.add_argument("--publish-url", default="", help="publish a version that passed its gates here")
    p.add_argument(
        "--feedback-log", default="", help="the gateway's feedback log to train on ('': none)"
    )
    p.add_argument(
        "--feedback-recent-days", type=float, default=7.0, help="recent feedback held out"
    )
    p.add_argument("--out", type=Path, default=out, help="outputs: one folder per run")
    a = p.parse_args(argv)
    task = run_local(
        a.out,
        corpus=a.corpus,
        trials=a.trials,
        cpus=a.cpus,
        seed=a.seed,
        max_rounds=a.max_rounds,
        model_name=a.model_name,
        mlflow_tracking_uri=a.mlflow_tracking_uri,
        mlflow_experiment=a.mlflow_experiment,
        register=not a.no_register,
        gate_f1_min=a.gate_f1_min,
        gate_roc_auc_min=a.gate_roc_auc_min,
        gate_cold_fpr_max=a.gate_cold_fpr_max,
        feast_repo=a.feast_repo,
        feast_history=a.feast_history,
        publish_url=a.publish_url,
        feedback_log=a.feedback_log,
        feedback_recent_days=a.feedback_recent_days,
    )
    o = task.outputs
    print(
        json.dumps(
            {
                "mlflow_run_id": o["run_id"],
                "model_version": o["model_version"] or None,
                "staging": o["staging"],
                "gate_failures": o["gate_failures"] or None,
                "test_metrics": o["metrics"].metadata,
                "bundle": o["bundle"].path,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
