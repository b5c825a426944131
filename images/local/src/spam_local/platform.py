"""``up`` / ``down`` / ``status`` of the local platform, and the supervisor that keeps it running.

``up``:

1. starts an MLflow server (SQLite backend, local artifact store) unless one is running;
2. trains and registers a model if no version holds alias ``staging`` (quality gates apply), and
   promotes it to ``production`` if no version holds that alias yet;
3. downloads each alias's bundle into ``run/models/<track>/`` and writes one Triton model
   repository with two models, ``spam-detector-staging`` and ``spam-detector-production``
   (the local mirror of the two KServe InferenceServices);
4. writes the hashed API key file (``SPAM_API_KEY`` becomes the operator key; otherwise a key is
   generated, printed, and kept in ``run/api-key`` with mode 0600 for ``make demo``);
5. starts the supervisor (``spam-platform local-supervise``, detached) which runs the real
   tritonserver, the transformer and the gateway, restarts any of them that dies, runs the drift
   job on a schedule (``spam_local.drift``), and stops them in order on SIGTERM; ``up`` returns
   once the gateway's ``/ready`` answers 200.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spam_core.features.spec import FEATURE_SET_VERSION
from spam_local.config import TRACKS, LocalSettings
from spam_local.processes import (
    ProcessError,
    alive,
    child_environ,
    http_status,
    read_pid,
    spawn,
    spawn_rotating,
    stop_pid,
    wait_http,
)

Log = Callable[[str], None]
BIN = Path(sys.executable).parent


class PlatformError(RuntimeError):
    pass


# --------------------------------------------------------------------------- MLflow server
def ensure_mlflow(settings: LocalSettings, log: Log) -> str:
    pid_file = settings.pid_file("mlflow")
    url = settings.mlflow_uri
    if read_pid(pid_file) and http_status(f"{url}/health") == 200:
        return url
    if http_status(f"{url}/health") is not None:
        raise PlatformError(
            f"port {settings.mlflow_port} is taken by another process (set SPAM_MLFLOW_PORT)"
        )
    store = settings.mlflow_dir
    (store / "artifacts").mkdir(parents=True, exist_ok=True)
    env = {
        **child_environ(),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    log_file = settings.logs_dir / "mlflow.log"
    process = spawn(
        "mlflow",
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.mlflow_port),
            "--workers",
            "2",
        ],
        env=env,
        log_file=log_file,
        pid_file=pid_file,
    )
    log(f"MLflow server starting on {url} (SQLite at {store / 'mlflow.db'})")
    wait_http(
        f"{url}/health", timeout=120, process=process, what="MLflow server", log_file=log_file
    )
    return url


# --------------------------------------------------------------------------- models
def ensure_models(
    settings: LocalSettings, log: Log, on_trial_done: Callable[[int, int], None] | None = None
) -> dict[str, str]:
    """{track: version}: train if nothing is in staging, promote if nothing is in production."""
    from spam_trainer.registry import alias_version, configure_mlflow

    configure_mlflow(settings)
    name = settings.model_name
    staging = alias_version(name, "staging")
    stale = staging is not None and _feature_set(name, "staging") != FEATURE_SET_VERSION
    if staging is None or stale:
        why = (
            f"v{staging} (alias staging) was trained for another feature set"
            if stale
            else f"no version of {name!r} holds alias staging"
        )
        log(f"{why}: training one ({settings.up_trials} Ray Tune trials)")
        _train(settings, _dataset(settings, log), log, on_trial_done)
    else:
        _ensure_reputation(settings, log)
    production = alias_version(name, "production")
    if production is None or _feature_set(name, "production") != FEATURE_SET_VERSION:
        from spam_core.reputation.online import OnlineReputation
        from spam_trainer.promote import promote

        # promotion only points a track at a published version (spam_trainer.publish)
        publish_version(settings, str(alias_version(name, "staging")))

        result = promote(
            settings,
            dataset_dir=_dataset(settings, log),
            reputation=OnlineReputation.from_repo(settings.resolved_feast_repo),
        )
        log(f"alias production -> v{result.candidate} ({'; '.join(result.reasons)})")
    versions = {t: alias_version(name, t) for t in TRACKS}
    missing = [t for t, v in versions.items() if v is None]
    if missing:
        raise PlatformError(f"no version for {missing} after training/promotion")
    return {t: str(v) for t, v in versions.items()}


def _feature_set(name: str, alias: str) -> str | None:
    """The feature set the version holding ``alias`` was trained for (its run's tag)."""
    import mlflow

    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(name, alias)
    return client.get_run(version.run_id).data.tags.get("feature_set") if version.run_id else None


def _ensure_reputation(settings: LocalSettings, log: Log) -> None:
    """The online store holds the reputation history (re-materialized when it is missing)."""
    from spam_core.ingest import load_manifest
    from spam_trainer.reputation import materialized_from, reputation_stage

    repo = settings.resolved_feast_repo
    dataset = _dataset(settings, log)
    if materialized_from(repo) == load_manifest(dataset).fingerprint:
        return
    with tempfile.TemporaryDirectory(prefix="spam-reputation-") as tmp:
        summary = reputation_stage(dataset, Path(tmp), repo)
    log(f"reputation history loaded into {repo} ({summary.senders} senders)")


def _dataset(settings: LocalSettings, log: Log) -> Path:
    """The default dataset, ingested from the configured corpus unless already there."""
    from spam_core.errors import SourceError
    from spam_core.ingest import ingest, load_manifest

    dataset = settings.datasets_dir / "spamassassin"
    source = settings.resolved_corpus()
    try:
        if load_manifest(dataset).source == str(source):
            return dataset
    except (SourceError, ValueError):
        pass
    log(f"ingesting {source}")
    ingest(source, dataset, cache_dir=settings.resolved_cache_dir)
    return dataset


def _train(
    settings: LocalSettings,
    dataset: Path,
    log: Log,
    on_trial_done: Callable[[int, int], None] | None,
) -> None:
    from datetime import UTC, datetime

    from spam_trainer.registry import Gates
    from spam_trainer.train import TrainOptions, train
    from spam_trainer.tune import TuneSettings

    opts = TrainOptions(
        dataset_dir=dataset,
        out_dir=settings.models_dir / datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        tune=TuneSettings(trials=settings.up_trials, cpus=settings.cpus, seed=settings.seed),
        feast_repo=settings.resolved_feast_repo,
        model_name=settings.model_name,
        gates=Gates(settings.gate_f1_min, settings.gate_roc_auc_min, settings.gate_cold_fpr_max),
        on_trial_done=on_trial_done,
        log=log,
    )
    result = train(opts, settings)
    reg = result.registration
    if not reg.staging:
        raise PlatformError(
            f"the trained model v{reg.version} failed the quality gates: "
            f"{'; '.join(reg.gate_failures)}"
        )
    m = result.trained.test_metrics
    log(
        f"registered v{reg.version} -> staging (test ROC-AUC {m['roc_auc']:.4f}, precision "
        f"{m['precision']:.4f}, recall {m['recall']:.4f})"
    )


def publish_version(settings: LocalSettings, version: str) -> Path:
    """Publish a registered version to ``$SPAM_HOME/published`` with the trainer's publisher
    (the layout the chart's InferenceServices read, checksummed; idempotent): the local
    platform serves what is published, and promotion / rollback check the same place."""
    from spam_trainer.publish import publish_version as publish

    result = publish(settings.model_name, version, str(settings.local_publish_dir))
    return settings.local_publish_dir / settings.model_name / f"v{result.version}"


def publish_models(settings: LocalSettings, versions: dict[str, str]) -> dict[str, Path]:
    """Publish each track's version, copy its bundle to run/models/<track>; one Triton
    repository with both tracks."""
    from spam_core.bundle import ONNX_FILE, TRITON_DIR, ModelBundle
    from spam_trainer.publish import MANIFEST
    from spam_trainer.triton import write_model_repository

    out: dict[str, Path] = {}
    if settings.triton_repo.exists():
        shutil.rmtree(settings.triton_repo)
    for track in TRACKS:
        published = publish_version(settings, versions[track])
        dest = settings.models_run_dir / track
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(published, dest, ignore=shutil.ignore_patterns(TRITON_DIR, MANIFEST))
        ModelBundle.load(dest)  # refuse a broken bundle before serving it
        # no queue delay locally: the gateway already merges concurrent requests, and a lone
        # request would wait the full delay for a batch that never comes (README, "Measured
        # design choices")
        write_model_repository(
            dest / ONNX_FILE,
            settings.triton_repo,
            model_name=f"{settings.model_name}-{track}",
            max_queue_delay_us=0,
        )
        out[track] = dest
    return out


# --------------------------------------------------------------------------- API key
def ensure_api_key(settings: LocalSettings) -> tuple[str, bool]:
    """(plain key, generated?) — the key file holds only its SHA-256."""
    key_file = settings.run_dir / "api-key"
    generated = False
    if settings.api_key:
        key = settings.api_key
        key_file.unlink(missing_ok=True)
    elif key_file.is_file():
        key = key_file.read_text().strip()
    else:
        key = "sk-local-" + secrets.token_urlsafe(24)
        generated = True
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(key + "\n")
    keys = [
        {
            "name": "local-operator",
            "role": "operator",
            "sha256": hashlib.sha256(key.encode()).hexdigest(),
        }
    ]
    path = settings.run_dir / "api-keys.json"
    path.write_text(json.dumps(keys, indent=1) + "\n")
    path.chmod(0o600)
    return key, generated


# --------------------------------------------------------------------------- services
def transformer_env(settings: LocalSettings, versions: dict[str, str]) -> dict[str, str]:
    env = {
        **child_environ(),
        "SPAM_LOG_FORMAT": "json",
        "SPAM_TRANSFORMER_PORT": str(settings.transformer_port),
        "SPAM_TRANSFORMER_HOST": "127.0.0.1",
        "SPAM_TRANSFORMER_PROTOCOL": "grpc",
        "SPAM_TRANSFORMER_FEAST_REPO_PATH": str(settings.resolved_feast_repo),
        # feedback (POST /feedback) reaches the next score within this TTL
        "SPAM_TRANSFORMER_REPUTATION_CACHE_TTL_S": str(settings.local_reputation_cache_ttl_s),
    }
    for track in TRACKS:
        up = track.upper()
        env[f"SPAM_TRANSFORMER_PREDICTOR_{up}_URL"] = f"127.0.0.1:{settings.triton_grpc_port}"
        env[f"SPAM_TRANSFORMER_TRITON_MODEL_{up}"] = f"{settings.model_name}-{track}"
        env[f"SPAM_TRANSFORMER_FEATURES_URI_{up}"] = str(
            settings.models_run_dir / track / "features.json"
        )
        env[f"SPAM_TRANSFORMER_MODEL_VERSION_{up}"] = versions[track]
    return env


def gateway_env(settings: LocalSettings, versions: dict[str, str]) -> dict[str, str]:
    settings.inference_log_dir.mkdir(parents=True, exist_ok=True)
    return {
        **child_environ(),
        "SPAM_LOG_FORMAT": "json",
        "SPAM_GATEWAY_PORT": str(settings.gateway_port),
        "SPAM_GATEWAY_HOST": "127.0.0.1",
        "SPAM_GATEWAY_TRANSFORMER_URL": f"http://127.0.0.1:{settings.transformer_port}",
        "SPAM_GATEWAY_DEFAULT_ENVIRONMENT": "staging",
        "SPAM_GATEWAY_MODEL_NAME": settings.model_name,
        "SPAM_GATEWAY_MODEL_VERSION_STAGING": versions["staging"],
        "SPAM_GATEWAY_MODEL_VERSION_PRODUCTION": versions["production"],
        "SPAM_GATEWAY_API_KEYS_FILE": str(settings.run_dir / "api-keys.json"),
        "SPAM_GATEWAY_INFERENCE_LOG_URL": str(settings.inference_log_dir),
        "SPAM_GATEWAY_INFERENCE_LOG_SPOOL_DIR": str(settings.run_dir / "spool"),
        # GET /monitoring/drift reads where the scheduled drift runs (spam_local.drift) write
        "SPAM_GATEWAY_DRIFT_REPORTS_URL": str(settings.drift_reports_dir),
        "SPAM_GATEWAY_BATCH_BACKEND": "local",
        "SPAM_GATEWAY_BATCH_STATUS_URL": str(settings.home / "batch" / "status"),
        "SPAM_GATEWAY_BATCH_OUTPUT_URL": str(settings.home / "batch" / "output"),
        "SPAM_GATEWAY_BATCH_INPUT_ROOTS": json.dumps([str(settings.batch_input_dir)]),
        "SPAM_GATEWAY_BATCH_MODEL_REF_STAGING": str(settings.models_run_dir / "staging"),
        "SPAM_GATEWAY_BATCH_MODEL_REF_PRODUCTION": str(settings.models_run_dir / "production"),
        "SPAM_GATEWAY_BATCH_LOG_DIR": str(settings.logs_dir / "batch"),
        "SPAM_GATEWAY_BATCH_CPUS": str(settings.cpus),
        # batch jobs (spam-batch subprocesses) read the reputation from the same store
        "SPAM_FEAST_REPO": str(settings.resolved_feast_repo),
        # user feedback (POST /feedback) updates that store's totals
        "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": str(settings.resolved_feast_repo),
        "SPAM_GATEWAY_FEEDBACK_LOG_URL": str(settings.home / "feedback-logs"),
        "SPAM_GATEWAY_FEEDBACK_LOG_SPOOL_DIR": str(settings.run_dir / "feedback-spool"),
        # shadow scoring (SPAM_SHADOW_SAMPLE_RATE) writes where `promote` reads
        "SPAM_GATEWAY_SHADOW_ENABLED": "true" if settings.shadow_sample_rate > 0 else "false",
        "SPAM_GATEWAY_SHADOW_SAMPLE_RATE": str(settings.shadow_sample_rate),
        "SPAM_GATEWAY_SHADOW_LOG_URL": settings.shadow_log_location(),
        "SPAM_GATEWAY_SHADOW_LOG_SPOOL_DIR": str(settings.run_dir / "shadow-spool"),
    }


@dataclass
class _Child:
    name: str
    command: list[str]
    env: dict[str, str]
    ready_url: str
    process: object = None
    restarts: int = 0
    answered: float = 0.0
    """``time.monotonic()`` of its last answered health check."""


def supervise(settings: LocalSettings) -> int:
    """Run Triton, transformer and gateway until SIGTERM; restart any that exits, and any
    whose /health has not answered for ``liveness_timeout`` seconds (hung or frozen: it is
    killed, SIGTERM then SIGKILL, and started again). Service logs rotate by size
    (``processes.LOG_MAX_BYTES``). Once they run, the scheduled drift runs start
    (``spam_local.drift``, unless ``SPAM_LOCAL_DRIFT_INTERVAL`` is 0); they stop first."""
    from spam_local.drift import DriftScheduler
    from spam_local.tritonserver import LocalTritonServer

    versions = json.loads((settings.run_dir / "versions.json").read_text())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    triton = LocalTritonServer(
        [settings.triton_repo],
        http_port=settings.triton_http_port,
        grpc_port=settings.triton_grpc_port,
        metrics_port=settings.triton_metrics_port,
        log_dir=settings.logs_dir,
        startup_timeout=120,
    )
    children = [
        _Child(
            "transformer",
            [str(BIN / "spam-transformer")],
            transformer_env(settings, versions),
            f"http://127.0.0.1:{settings.transformer_port}/health",
        ),
        _Child(
            "gateway",
            [str(BIN / "spam-gateway")],
            gateway_env(settings, versions),
            f"{settings.gateway_url}/health",
        ),
    ]

    def start_child(child: _Child) -> None:
        log_file = settings.logs_dir / f"{child.name}.log"
        child.process = spawn_rotating(child.name, child.command, env=child.env, log_file=log_file)
        wait_http(
            child.ready_url,
            timeout=120,
            process=child.process,  # type: ignore[arg-type]
            what=child.name,
            log_file=log_file,
        )
        child.answered = time.monotonic()

    def hung(child: _Child) -> bool:
        """No answer from its /health for ``liveness_timeout`` seconds."""
        if http_status(child.ready_url, timeout=1.0) is not None:
            child.answered = time.monotonic()
            return False
        return time.monotonic() - child.answered > settings.liveness_timeout

    scheduler: DriftScheduler | None = None
    try:
        triton.start()
        for child in children:
            start_child(child)
        if settings.drift_interval is not None:
            try:
                scheduler = DriftScheduler(settings).start()
            except Exception as exc:  # the services run on without the schedule
                print(f"supervisor: the drift schedule did not start: {exc}", flush=True)
        else:
            print(
                "supervisor: scheduled drift runs are off (SPAM_LOCAL_DRIFT_INTERVAL)", flush=True
            )
        backoff = 1.0
        while not stop.wait(1.0):
            if not triton.is_alive():
                print("supervisor: tritonserver exited; restarting", flush=True)
                triton.stop()
                try:
                    triton.start()
                    backoff = 1.0
                except Exception as exc:
                    print(f"supervisor: tritonserver restart failed: {exc}", flush=True)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
            for child in children:
                exited = child.process.poll() is not None  # type: ignore[attr-defined]
                if not exited and hung(child):
                    child.restarts += 1
                    print(
                        f"supervisor: {child.name} has not answered /health for "
                        f"{settings.liveness_timeout:g} s; killing it, restart #{child.restarts}",
                        flush=True,
                    )
                    stop_pid(child.process.pid, timeout=5)  # type: ignore[attr-defined]
                    child.process.wait()  # type: ignore[attr-defined]
                    try:
                        start_child(child)
                    except ProcessError as exc:
                        print(f"supervisor: {exc}", flush=True)
                    continue
                if exited:
                    child.restarts += 1
                    print(
                        f"supervisor: {child.name} exited "
                        f"({child.process.returncode}); restart #{child.restarts}",  # type: ignore[attr-defined]
                        flush=True,
                    )
                    try:
                        start_child(child)
                    except ProcessError as exc:
                        print(f"supervisor: {exc}", flush=True)
                        stop.wait(min(2.0 * child.restarts, 30.0))
    finally:
        if scheduler is not None:
            scheduler.stop()
        for child in reversed(children):  # gateway first: it flushes the inference log
            if child.process is not None and child.process.poll() is None:  # type: ignore[attr-defined]
                stop_pid(child.process.pid)  # type: ignore[attr-defined]
        triton.stop()
    return 0


# --------------------------------------------------------------------------- up / down
@dataclass
class UpResult:
    url: str
    api_key: str
    generated_key: bool
    versions: dict[str, str]


@dataclass
class Step:
    """The step ``up`` is in (named in its error message)."""

    name: str


def up(
    settings: LocalSettings, log: Log, on_trial_done: Callable[[int, int], None] | None = None
) -> UpResult:
    """Start what is missing and return once the gateway is ready. If any step fails (or the
    user interrupts), what this call started is stopped again and a :class:`PlatformError`
    names the step and the log; what was already running before the call is left alone."""
    started: list[str] = []
    step = Step("preparing")
    try:
        return _up(settings, log, on_trial_done, started, step)
    except BaseException as exc:
        stopped = _stop_started(settings, started)
        log_file = settings.logs_dir / "up.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a") as fh:
            fh.write(f"--- up failed while {step.name}\n")
            fh.write("".join(traceback.format_exception(exc)))
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: stop, then re-raise
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first_line = first_line.removesuffix(":").split("; last lines of ")[0]
        details = getattr(exc, "log_file", None) or log_file
        cleanup = f"; stopped {', '.join(stopped)}" if stopped else ""
        raise PlatformError(
            f"up failed while {step.name}: {first_line}{cleanup} (log: {details})"
        ) from exc


def _stop_started(settings: LocalSettings, started: list[str]) -> list[str]:
    stopped = []
    for name in reversed(started):
        pid = read_pid(settings.pid_file(name))
        if pid is not None and stop_pid(pid, timeout=60):
            stopped.append("MLflow" if name == "mlflow" else name)
        settings.pid_file(name).unlink(missing_ok=True)
    return stopped


def _up(
    settings: LocalSettings,
    log: Log,
    on_trial_done: Callable[[int, int], None] | None,
    started: list[str],
    step: Step,
) -> UpResult:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    supervisor_pid = read_pid(settings.pid_file("supervisor"))
    if supervisor_pid is None and http_status(f"{settings.gateway_url}/health") is not None:
        raise PlatformError(
            f"port {settings.gateway_port} is taken by another process (set SPAM_GATEWAY_PORT)"
        )
    step.name = "starting the MLflow server"
    if read_pid(settings.pid_file("mlflow")) is None:
        started.append("mlflow")
    os.environ["MLFLOW_TRACKING_URI"] = ensure_mlflow(settings, log)
    step.name = "preparing the models (ingest, training, promotion)"
    versions = ensure_models(settings, log, on_trial_done)
    if supervisor_pid is not None:
        served = settings.run_dir / "versions.json"
        if (
            served.is_file()
            and json.loads(served.read_text()) == versions
            and http_status(f"{settings.gateway_url}/ready") == 200
        ):
            key, generated = ensure_api_key(settings)
            log("the platform is already running with these versions")
            return UpResult(settings.gateway_url, key, generated, versions)
        log("restarting the services with the current model versions")
        step.name = "stopping the running services"
        stop_pid(supervisor_pid, timeout=60)
    step.name = "publishing the models to the local Triton repository"
    publish_models(settings, versions)
    (settings.run_dir / "versions.json").write_text(json.dumps(versions) + "\n")
    key, generated = ensure_api_key(settings)
    step.name = "starting Triton, transformer and gateway"
    log_file = settings.logs_dir / "supervisor.log"
    env = {**child_environ(), "SPAM_HOME": str(settings.home)}
    started.append("supervisor")
    process = spawn(
        "supervisor",
        [str(BIN / "spam-platform"), "local-supervise"],
        env=env,
        log_file=log_file,
        pid_file=settings.pid_file("supervisor"),
    )
    log(f"starting Triton, transformer and gateway (logs in {settings.logs_dir})")
    wait_http(
        f"{settings.gateway_url}/ready",
        timeout=settings.ready_timeout,
        process=process,
        what="the platform",
        log_file=log_file,
    )
    return UpResult(settings.gateway_url, key, generated, versions)


def down(settings: LocalSettings) -> list[str]:
    stopped = []
    for name in ("supervisor", "mlflow"):
        pid = read_pid(settings.pid_file(name))
        if pid is not None and stop_pid(pid, timeout=60):
            stopped.append(name)
        settings.pid_file(name).unlink(missing_ok=True)
    return stopped


def status(settings: LocalSettings) -> dict[str, str]:
    out = {}
    for name in ("supervisor", "mlflow"):
        pid = read_pid(settings.pid_file(name))
        out[name] = f"running (pid {pid})" if pid and alive(pid) else "stopped"
    out["mlflow /health"] = str(http_status(f"{settings.mlflow_uri}/health"))
    out["gateway /ready"] = str(http_status(f"{settings.gateway_url}/ready"))
    out["transformer /ready"] = str(
        http_status(f"http://127.0.0.1:{settings.transformer_port}/ready")
    )
    out["triton /v2/health/ready"] = str(
        http_status(f"http://127.0.0.1:{settings.triton_http_port}/v2/health/ready")
    )
    from spam_local.drift import schedule_status

    out.update(schedule_status(settings, running=out["supervisor"].startswith("running")))
    return out
