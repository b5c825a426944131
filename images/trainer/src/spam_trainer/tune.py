"""Ray Tune search over XGBoost hyper-parameters (Optuna TPE + ASHA early stopping).

Each trial trains on the training split with early stopping on the validation split and
reports validation log-loss and ROC-AUC every ``report_every`` boosting rounds; ASHA stops
unpromising trials (by ROC-AUC) at those milestones, and Optuna's TPE sampler proposes new
configurations to minimize validation log-loss. The search is seeded (Optuna's sampler and every
XGBoost fit); with ``concurrency=1`` a search is bit-for-bit reproducible, with parallel trials
the completion order (and thus later suggestions and ASHA's cuts) can vary with timing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
from ray import tune as _tune  # after setting the environment Ray reads at import

OBJECTIVE_METRIC = "val_logloss"
SCHEDULER_METRIC = "val_auc"


@dataclass(frozen=True)
class TuneSettings:
    trials: int = 20
    cpus: int = 2
    concurrency: int | None = None
    """Parallel trials; default: one per CPU (of the cluster, with ``ray_address``)."""
    seed: int = 42
    max_rounds: int = 1000
    early_stopping_rounds: int = 30
    report_every: int = 10
    grace_period: int = 10
    """ASHA: reports before a trial may be stopped (x ``report_every`` rounds)."""
    ray_address: str | None = None
    """A running Ray cluster to search on (``host:port`` or ``ray://host:port``); None: an
    embedded local Ray of ``cpus`` CPUs, started and stopped by :func:`run_search`."""
    cluster_storage_path: str = "/tmp/ray_results"
    """Through Ray Client (``ray://``): where the search loop, which then runs on the cluster's
    head, keeps the experiment state — a path on the head (the chart's Ray pods: /tmp)."""


def search_space(max_rounds: int) -> dict[str, Any]:
    from ray import tune

    return {
        "max_depth": tune.randint(3, 9),
        "eta": tune.loguniform(0.02, 0.3),
        "subsample": tune.uniform(0.6, 1.0),
        "colsample_bytree": tune.uniform(0.3, 1.0),
        "min_child_weight": tune.loguniform(0.5, 10.0),
        "reg_lambda": tune.loguniform(1e-3, 10.0),
        "reg_alpha": tune.loguniform(1e-3, 1.0),
        "gamma": tune.uniform(0.0, 1.0),
        "n_estimators": tune.randint(min(100, max_rounds), max_rounds + 1),
    }


def xgb_params(config: dict[str, Any], seed: int, nthread: int = 1) -> dict[str, Any]:
    """Trial config -> ``xgboost.train`` params (``n_estimators`` is the round budget)."""
    return {
        "objective": "binary:logistic",
        "eval_metric": ["auc", "logloss"],  # the last one drives early stopping
        "tree_method": "hist",
        "nthread": nthread,
        "seed": seed,
        "max_depth": int(config["max_depth"]),
        "eta": float(config["eta"]),
        "subsample": float(config["subsample"]),
        "colsample_bytree": float(config["colsample_bytree"]),
        "min_child_weight": float(config["min_child_weight"]),
        "lambda": float(config["reg_lambda"]),
        "alpha": float(config["reg_alpha"]),
        "gamma": float(config["gamma"]),
    }


def _trainable(config: dict[str, Any], data: dict[str, np.ndarray], settings: TuneSettings) -> None:
    import xgboost as xgb
    from ray import tune

    dtrain = xgb.DMatrix(data["x_train"], label=data["y_train"], missing=np.nan)
    dval = xgb.DMatrix(data["x_val"], label=data["y_val"], missing=np.nan)

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if (epoch + 1) % settings.report_every == 0:
                log = evals_log["val"]
                tune.report(
                    {
                        OBJECTIVE_METRIC: log["logloss"][-1],
                        "val_auc": log["auc"][-1],
                        "rounds": epoch + 1,
                    }
                )
            return False

    booster = xgb.train(
        xgb_params(config, settings.seed),
        dtrain,
        num_boost_round=int(config["n_estimators"]),
        evals=[(dval, "val")],
        early_stopping_rounds=settings.early_stopping_rounds,
        callbacks=[Report()],
        verbose_eval=False,
    )
    best = booster.best_iteration
    log_loss = float(booster.best_score)
    tune.report(
        {
            OBJECTIVE_METRIC: log_loss,
            "val_auc": float(booster.eval(dval, iteration=best).split("val-auc:")[1].split()[0]),
            "rounds": booster.num_boosted_rounds(),
            "best_iteration": best,
            "done": True,
        }
    )


class _TrialProgress(_tune.Callback):
    """Counts finished trials for the caller's progress bar (driver side only)."""

    def __init__(self, notify: Callable[[int, int], None] | None, total: int) -> None:
        self.done = 0
        self.total = total
        self.notify = notify

    def __getstate__(self) -> dict[str, Any]:
        # the Tuner pickles its run config for resumption; a progress bar holds locks
        return {"done": self.done, "total": self.total, "notify": None}

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.notify is not None:
            self.notify(self.done, self.total)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.on_trial_complete(iteration, trials, trial, **info)


@dataclass
class TuneOutcome:
    best_config: dict[str, Any]
    best_iteration: int
    best_val_logloss: float
    best_val_auc: float
    trials: pd.DataFrame = field(repr=False)
    seconds: float = 0.0


def _require_reachable(address: str, timeout_s: float = 10.0) -> None:
    """A TCP connection to the Ray address (``host:port`` or ``ray://host:port``), or a
    RuntimeError: ``ray.init`` itself retries an unreachable GCS for minutes."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise RuntimeError(f"Ray cluster at {address}: want host:port or ray://host:port")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise RuntimeError(f"Ray cluster at {address}: cannot connect ({exc})") from exc


def run_search(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    settings: TuneSettings,
    *,
    work_dir: Path,
    on_trial_done: Callable[[int, int], None] | None = None,
) -> TuneOutcome:
    """Run the search — on the Ray cluster at ``settings.ray_address``, else in an embedded
    local Ray (or the Ray this process already joined) — and return the best trial and the
    trial table.

    On a cluster the trials run on its workers, which must have this package (the same
    ``spam_trainer`` and Ray version as this driver; the trainer image): the data travel
    through Ray's object store, trials keep no checkpoints, and the experiment state is written
    under ``work_dir`` — except through Ray Client (``ray://``, how a pod outside the cluster
    connects, e.g. the KFP tune step to the chart's tuning RayCluster), where Ray Tune runs
    the search loop (and Optuna) on the cluster's head and keeps the state there
    (``settings.cluster_storage_path``). Only this
    driver's connection is closed afterwards, never the cluster.
    """
    import logging
    import time

    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from spam_core.raylocal import workers_without_uv_run

    logging.getLogger("optuna").setLevel(logging.WARNING)
    workers_without_uv_run()
    started = time.perf_counter()
    temp_dir = None
    owns_ray = not ray.is_initialized()
    if owns_ray and settings.ray_address:
        _require_reachable(settings.ray_address)
        try:
            ray.init(
                address=settings.ray_address,
                log_to_driver=False,
                logging_level="ERROR",
                configure_logging=True,
            )
        except Exception as exc:  # ConnectionError, TimeoutError, version mismatch, ...
            raise RuntimeError(
                f"Ray cluster at {settings.ray_address}: cannot connect ({type(exc).__name__}: "
                f"{exc})"
            ) from exc
    elif owns_ray:
        temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: unix socket paths
        ray.init(
            num_cpus=settings.cpus,
            include_dashboard=False,
            _temp_dir=temp_dir,
            log_to_driver=False,
            logging_level="ERROR",
            configure_logging=True,
        )
    client = bool(settings.ray_address) and settings.ray_address.startswith("ray://")
    try:
        concurrency = settings.concurrency or (
            max(1, int(ray.cluster_resources().get("CPU", 1)))
            if settings.ray_address
            else settings.cpus
        )
        data = {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, data=data, settings=settings), {"cpu": 1}
        )
        # ASHA ranks trials on ROC-AUC: at an early milestone a small learning rate has a poor
        # log-loss (scores not yet calibrated) but a fair ranking; cutting on log-loss would
        # systematically kill low-eta trials. The search itself minimizes log-loss.
        max_t = max(settings.max_rounds // settings.report_every, 2) + 1
        scheduler = ASHAScheduler(
            metric=SCHEDULER_METRIC,
            mode="max",
            time_attr="training_iteration",
            max_t=max_t,
            grace_period=min(settings.grace_period, max_t),
            reduction_factor=3,
        )
        searcher = ConcurrencyLimiter(
            OptunaSearch(metric=OBJECTIVE_METRIC, mode="min", seed=settings.seed),
            max_concurrent=concurrency,
        )

        tuner = tune.Tuner(
            trainable,
            param_space=search_space(settings.max_rounds),
            tune_config=tune.TuneConfig(
                num_samples=settings.trials,
                scheduler=scheduler,
                search_alg=searcher,
            ),
            run_config=tune.RunConfig(
                name="xgboost-search",
                # Ray Client: the Tuner itself runs on the cluster's head and writes the
                # experiment state there, not under this driver's work_dir, which the cluster's
                # pods cannot write (Ray's default, ~/ray_results, is the driver's home too)
                storage_path=settings.cluster_storage_path if client else str(work_dir),
                verbose=0,
                callbacks=[_TrialProgress(on_trial_done, settings.trials)],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        grid = tuner.fit()
        frame = grid.get_dataframe(filter_metric=OBJECTIVE_METRIC, filter_mode="min")
        ok = [r for r in grid if r.error is None and r.metrics]
        if not ok:
            errors = [str(r.error) for r in grid if r.error is not None][:3]
            raise RuntimeError(f"every Ray Tune trial failed: {errors}")
        best = grid.get_best_result(metric=OBJECTIVE_METRIC, mode="min", scope="all")
        last = best.metrics  # a finished trial's last report holds its best score
        best_iteration = (
            int(last["best_iteration"]) if last.get("done") else int(last["rounds"]) - 1
        )
        config = {k: v for k, v in best.config.items()}
        columns = [c for c in frame.columns if c.startswith("config/")] + [
            c
            for c in (
                OBJECTIVE_METRIC,
                "val_auc",
                "rounds",
                "best_iteration",
                "training_iteration",
                "time_total_s",
                "trial_id",
            )
            if c in frame.columns
        ]
        trials = frame[columns].rename(columns=lambda c: c.removeprefix("config/"))
        trials = trials.sort_values(OBJECTIVE_METRIC).reset_index(drop=True)
        return TuneOutcome(
            best_config=config,
            best_iteration=best_iteration,
            best_val_logloss=float(last[OBJECTIVE_METRIC]),
            best_val_auc=float(last["val_auc"]),
            trials=trials,
            seconds=time.perf_counter() - started,
        )
    finally:
        if owns_ray:
            ray.shutdown()  # a cluster: this driver disconnects, the cluster stays
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
