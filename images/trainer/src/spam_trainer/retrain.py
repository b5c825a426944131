"""Retraining triggers: decide from what the platform observed whether to train again.

Inputs (:func:`observe`), each read where its writer puts it:

* the **latest drift verdict** of each watched environment (``spam_core.drift_reports.history``
  over the drift-reports location the drift job writes); a verdict counts while its window ended
  less than ``drift_max_age`` ago;
* the **new feedback**: rows of the feedback log (``spam_core.feedback.read_log``) reported
  after the production model's training run started whose report set a label (``applied`` or
  ``replaced``; duplicates, capped reports and reports without a sender add nothing);
* the **production model's age**: now minus the start of the MLflow run that trained the
  version holding alias ``production`` (no production version: no age, every feedback row is
  new);
* the **last retrain**: the newer of the latest registered version of the model and the latest
  recorded decision that started a training (a pipeline run submitted to Kubeflow registers its
  version only when it ends).

Policy (:class:`RetrainPolicy`, ``SPAM_RETRAIN_*``): triggers (drift per environment, feedback
volume, model age) and guards (cooldown since the last retrain; drift required). Retrain when
at least one trigger fired and no guard did. :func:`decide` returns every rule with its observed
value, threshold and whether it fired; the decision is recorded as JSON
(``<decisions>/retrain-<UTC time>-<action>.json``) and, when it trains, on the MLflow run and the
model version it produced.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings

from spam_core.scoring import TRACKS, Track
from spam_core.settings import Location, settings_config
from spam_core.storage import account_qualified

DECISION_KIND = "spam-platform/retrain-decision"
DECISION_PREFIX = "retrain-"
STARTED = ("trained", "submitted")
"""Actions of decisions that started a training (the cooldown counts from the newest)."""

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """``30d``, ``6h``, ``90m``, ``45s``, ``2w`` (or what pydantic reads: seconds, ISO 8601)."""
    if isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds < 0:
        return f"-{format_duration(-value)}"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if days:  # two units are enough
        parts = parts[:2] if hours else parts[:1]
    return " ".join(parts[:2]) or f"{seconds}s"


class RetrainPolicy(BaseSettings):
    """When to retrain and how (environment variables ``SPAM_RETRAIN_*``)."""

    model_config = settings_config("SPAM_RETRAIN_")

    mode: Literal["local", "kfp"] = Field(
        "local",
        description="local: train in this process (the `spam-platform train` path); kfp: submit "
        "the compiled Kubeflow pipeline to `kfp_host`.",
    )
    drift_environments: list[Track] = Field(
        default_factory=lambda: list(TRACKS),
        description="Environments whose latest drift verdict is a trigger.",
    )
    drift_max_age: Duration = Field(
        timedelta(hours=6),
        description="A verdict whose window ended longer ago than this does not count.",
    )
    require_drift: bool = Field(
        False,
        description="Retrain only on drift: feedback volume and model age alone do not trigger.",
    )
    min_feedback_rows: int = Field(
        1000,
        ge=0,
        description="New labelling feedback reports since the production model was trained "
        "that trigger a retrain (0: off).",
    )
    max_model_age: Duration | None = Field(
        timedelta(days=30),
        description="Production model age that triggers a retrain (empty: off).",
    )
    cooldown: Duration = Field(
        timedelta(days=1),
        description="No retrain sooner than this after the last one (registered version or "
        "started retrain).",
    )
    drift_reports_url: Location | None = Field(
        None, description="Drift-reports location (default $SPAM_HOME/drift-reports)."
    )
    feedback_log_url: Location | None = Field(
        None, description="Feedback-log location (default $SPAM_HOME/feedback-logs)."
    )
    decisions_url: Location | None = Field(
        None,
        description="Where decisions are recorded as JSON (default $SPAM_HOME/retrain-decisions).",
    )
    kfp_host: str | None = Field(
        None,
        description="Kubeflow Pipelines API endpoint (mode kfp), e.g. http://ml-pipeline:8888.",
    )
    kfp_experiment: str = Field("spam-detector", description="KFP experiment of the runs.")
    kfp_namespace: str | None = Field(
        None, description="KFP namespace (multi-user Kubeflow: the profile's namespace)."
    )
    kfp_token_path: Path | None = Field(
        None,
        description="A projected ServiceAccount token (audience pipelines.kubeflow.org) sent as "
        "the bearer token (multi-user Kubeflow).",
    )
    pipeline_package: Location = Field(
        "pipelines/compiled",
        description="The compiled pipeline (YAML), or a directory whose newest "
        "spam-training-v<N>.yaml is used.",
    )
    pipeline_arguments: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Pipeline parameters of a KFP run (JSON); the model name, MLflow tracking "
        "URI, experiment and quality gates come from the trainer settings unless given here.",
    )
    wait: bool = Field(
        False,
        description="Mode kfp: after submitting, wait for the run to finish and exit non-zero "
        "unless it succeeded (or it is still running at `wait_timeout`).",
    )
    wait_timeout: Duration = Field(
        timedelta(hours=6), description="Mode kfp with `wait`: give up waiting after this long."
    )
    wait_poll: Duration = Field(
        timedelta(seconds=30), description="Mode kfp with `wait`: time between two run reads."
    )

    @field_validator("max_model_age", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        off = isinstance(value, str) and value.strip().lower() in ("off", "none")
        return None if off else value

    def reports_url(self, home: Path) -> str:
        return self.drift_reports_url or str(home / "drift-reports")

    def feedback_url(self, home: Path) -> str:
        return self.feedback_log_url or str(home / "feedback-logs")

    def decisions_location(self, home: Path) -> str:
        return self.decisions_url or str(home / "retrain-decisions")

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "drift_environments": list(self.drift_environments),
            "drift_max_age": format_duration(self.drift_max_age),
            "require_drift": self.require_drift,
            "min_feedback_rows": self.min_feedback_rows,
            "max_model_age": format_duration(self.max_model_age) if self.max_model_age else "off",
            "cooldown": format_duration(self.cooldown),
        }


class RetrainConfigError(ValueError):
    """A setting or an input location is unusable (exit 2)."""


# --------------------------------------------------------------------------- observations
@dataclass
class DriftVerdict:
    environment: str
    report: str | None = None
    """Window label of the latest readable report (None: none)."""
    window_end: datetime | None = None
    status: str | None = None
    drift_detected: bool = False
    drift_score: float | None = None
    unreadable: list[str] = field(default_factory=list)


@dataclass
class ProductionModel:
    version: str
    trained_at: datetime
    run_id: str | None


@dataclass
class Observations:
    now: datetime
    drift: list[DriftVerdict]
    production: ProductionModel | None
    feedback_rows: int
    """Labelling reports after the production model's training (all, without one)."""
    feedback_rows_all_statuses: int
    last_retrain: datetime | None
    last_retrain_what: str | None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest_drift(url: str, environments: list[str]) -> list[DriftVerdict]:
    from spam_core import drift_reports
    from spam_core.storage import open_location

    location = open_location(url)
    out = []
    for environment in environments:
        found = drift_reports.history(location.fs, location.root, environment, limit=1)
        verdict = DriftVerdict(environment, unreadable=found.unreadable)
        latest = found.latest
        if latest is not None:
            window = latest.get("window") or {}
            verdict.window_end = _parse_time(window.get("end"))
            verdict.report = latest.get("report_url")
            verdict.status = latest.get("status")
            verdict.drift_detected = bool(latest.get("drift_detected"))
            verdict.drift_score = latest.get("drift_score")
        out.append(verdict)
    return out


def count_feedback(url: str, since: datetime | None) -> tuple[int, int]:
    """(labelling reports, all reports) in the feedback log after ``since``."""
    import pyarrow.compute as pc

    from spam_core import feedback
    from spam_core.storage import open_location

    location = open_location(url)
    table = feedback.read_log(location.fs, location.root, since=since, columns=["status"])
    labelling = pc.sum(pc.is_in(table["status"], value_set=feedback_statuses())).as_py()
    return int(labelling or 0), table.num_rows


def feedback_statuses():
    import pyarrow as pa

    from spam_core.feedback import LABELLING

    return pa.array(list(LABELLING), pa.string())


def production_model(model_name: str) -> ProductionModel | None:
    """The version holding alias ``production`` and when its training run started (the
    version's creation time when the run is gone)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from spam_trainer.registry import PRODUCTION, alias_version

    version = alias_version(model_name, PRODUCTION)
    if version is None:
        return None
    client = mlflow.MlflowClient()
    mv = client.get_model_version(model_name, version)
    started = mv.creation_timestamp
    if mv.run_id:
        with contextlib.suppress(MlflowException):
            started = client.get_run(mv.run_id).info.start_time or started
    return ProductionModel(version, datetime.fromtimestamp(started / 1000, UTC), mv.run_id)


def latest_registered(model_name: str) -> tuple[datetime, str] | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        versions = mlflow.MlflowClient().search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return None
    if not versions:
        return None
    newest = max(versions, key=lambda v: v.creation_timestamp)
    return datetime.fromtimestamp(newest.creation_timestamp / 1000, UTC), newest.version


def last_started(url: str) -> tuple[datetime, str] | None:
    """The newest recorded decision that started a training (from the file names)."""
    from spam_core.storage import open_location

    location = open_location(url)
    try:
        names = [p.rsplit("/", 1)[-1] for p in location.fs.ls(location.root, detail=False)]
    except FileNotFoundError:
        return None
    started = sorted(
        n
        for n in names
        if n.startswith(DECISION_PREFIX) and n.removesuffix(".json").endswith(STARTED)
    )
    if not started:
        return None
    stamp = started[-1].removeprefix(DECISION_PREFIX).split("-", 1)[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC), started[-1]


def observe(
    policy: RetrainPolicy, *, home: Path, model_name: str, now: datetime | None = None
) -> Observations:
    """Everything the policy reads (MLflow must be configured: ``registry.configure_mlflow``)."""
    now = now or datetime.now(UTC)
    try:
        drift = latest_drift(policy.reports_url(home), list(policy.drift_environments))
    except (OSError, ValueError) as exc:
        raise RetrainConfigError(
            f"drift reports at {policy.reports_url(home)}: {type(exc).__name__}: {exc}"
        ) from exc
    production = production_model(model_name)
    try:
        labelling, total = count_feedback(
            policy.feedback_url(home), production.trained_at if production else None
        )
    except (OSError, ValueError) as exc:
        raise RetrainConfigError(
            f"feedback log at {policy.feedback_url(home)}: {type(exc).__name__}: {exc}"
        ) from exc
    candidates = []
    if (registered := latest_registered(model_name)) is not None:
        candidates.append((registered[0], f"{model_name} v{registered[1]} registered"))
    try:
        if (recorded := last_started(policy.decisions_location(home))) is not None:
            candidates.append((recorded[0], f"decision {recorded[1]}"))
    except (OSError, ValueError) as exc:
        raise RetrainConfigError(
            f"decisions at {policy.decisions_location(home)}: {type(exc).__name__}: {exc}"
        ) from exc
    last = max(candidates, default=None, key=lambda c: c[0])
    return Observations(
        now=now,
        drift=drift,
        production=production,
        feedback_rows=labelling,
        feedback_rows_all_statuses=total,
        last_retrain=last[0] if last else None,
        last_retrain_what=last[1] if last else None,
    )


# --------------------------------------------------------------------------- decision
@dataclass
class Rule:
    name: str
    kind: Literal["trigger", "guard"]
    observed: str
    threshold: str
    fired: bool
    """A trigger that fired asks for a retrain; a guard that fired blocks it."""


@dataclass
class Decision:
    decided_at: datetime
    retrain: bool
    rules: list[Rule]
    reasons: list[str]
    policy: dict[str, Any]
    observations: dict[str, Any]
    action: str = "none"
    """none, dry_run, trained, gates_failed, submitted, failed."""
    outcome: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": DECISION_KIND,
            "schema_version": 1,
            "decided_at": self.decided_at.isoformat(timespec="microseconds"),
            "retrain": self.retrain,
            "action": self.action,
            "reasons": self.reasons,
            "rules": [asdict(r) for r in self.rules],
            "policy": self.policy,
            "observations": self.observations,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
        }


def decide(policy: RetrainPolicy, obs: Observations) -> Decision:
    rules: list[Rule] = []
    watched = {v.environment: v for v in obs.drift}
    drift_fired = False
    for environment in policy.drift_environments:
        v = watched[environment]
        age = obs.now - v.window_end if v.window_end else None
        fresh = age is not None and age <= policy.drift_max_age
        fired = bool(v.drift_detected and fresh)
        drift_fired |= fired
        if v.window_end is None:
            observed = "no report" + (f" ({len(v.unreadable)} unreadable)" if v.unreadable else "")
        else:
            score = "" if v.drift_score is None else f", score {v.drift_score:.2f}"
            observed = (
                f"drift_detected={str(v.drift_detected).lower()} ({v.status}{score}), "
                f"window ended {format_duration(age)} ago"
            )
        rules.append(
            Rule(
                f"drift ({environment})",
                "trigger",
                observed,
                f"drift_detected in a window ended <= {format_duration(policy.drift_max_age)} ago",
                fired,
            )
        )
    since = f"since v{obs.production.version} was trained" if obs.production else "(no production)"
    rules.append(
        Rule(
            "new feedback",
            "trigger",
            f"{obs.feedback_rows} labelling reports {since} "
            f"({obs.feedback_rows_all_statuses} rows)",
            f">= {policy.min_feedback_rows}" if policy.min_feedback_rows else "off",
            bool(policy.min_feedback_rows) and obs.feedback_rows >= policy.min_feedback_rows,
        )
    )
    if obs.production is None:
        age_observed, age = "no production model", None
    else:
        age = obs.now - obs.production.trained_at
        age_observed = f"v{obs.production.version}: {format_duration(age)}"
    rules.append(
        Rule(
            "model age",
            "trigger",
            age_observed,
            f">= {format_duration(policy.max_model_age)}" if policy.max_model_age else "off",
            policy.max_model_age is not None and (age is None or age >= policy.max_model_age),
        )
    )
    since_last = obs.now - obs.last_retrain if obs.last_retrain else None
    rules.append(
        Rule(
            "cooldown",
            "guard",
            "no retrain yet"
            if since_last is None
            else f"{format_duration(since_last)} since {obs.last_retrain_what}",
            f"blocks for {format_duration(policy.cooldown)}",
            since_last is not None
            and policy.cooldown > timedelta(0)
            and since_last < policy.cooldown,
        )
    )
    rules.append(
        Rule(
            "drift required",
            "guard",
            "drift fired" if drift_fired else "no drift fired",
            "on" if policy.require_drift else "off",
            policy.require_drift and not drift_fired,
        )
    )
    triggers = [r for r in rules if r.kind == "trigger" and r.fired]
    guards = [r for r in rules if r.kind == "guard" and r.fired]
    retrain = bool(triggers) and not guards
    if not triggers:
        reasons = ["no trigger fired"]
    else:
        reasons = [f"{r.name}: {r.observed}" for r in triggers]
        reasons += [f"blocked by {r.name}: {r.observed}" for r in guards]
    return Decision(
        decided_at=obs.now,
        retrain=retrain,
        rules=rules,
        reasons=reasons,
        policy=policy.summary(),
        observations=_observations(obs),
    )


def _observations(obs: Observations) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat(timespec="seconds") if t else None

    return {
        "drift": [
            {
                "environment": v.environment,
                "report": v.report,
                "window_end": iso(v.window_end),
                "status": v.status,
                "drift_detected": v.drift_detected,
                "drift_score": v.drift_score,
                "unreadable": v.unreadable,
            }
            for v in obs.drift
        ],
        "production": None
        if obs.production is None
        else {
            "version": obs.production.version,
            "trained_at": iso(obs.production.trained_at),
            "run_id": obs.production.run_id,
        },
        "feedback_rows": obs.feedback_rows,
        "feedback_rows_all_statuses": obs.feedback_rows_all_statuses,
        "last_retrain": iso(obs.last_retrain),
        "last_retrain_what": obs.last_retrain_what,
    }


# --------------------------------------------------------------------------- records
def record(decision: Decision, url: str) -> str:
    """Write the decision as ``<url>/retrain-<YYYYmmddTHHMMSSffffffZ>-<action>.json`` (UTC, with
    microseconds); its location."""
    from spam_core.storage import open_location

    location = open_location(url)
    name = f"{DECISION_PREFIX}{decision.decided_at:%Y%m%dT%H%M%S%fZ}-{decision.action}.json"
    path = location.path(name)
    location.write_bytes(path, json.dumps(decision.to_dict(), indent=1).encode() + b"\n")
    return location.display(path)


def record_in_mlflow(decision: Decision, model_name: str, run_id: str, version: str | None) -> None:
    """The decision on the training's MLflow run (``retrain/decision.json``, tags) and its
    model version (tag ``retrain_reasons``)."""
    import mlflow

    client = mlflow.MlflowClient()
    doc = decision.to_dict()
    client.log_dict(run_id, doc, "retrain/decision.json")
    client.set_tag(run_id, "retrain", "true")
    client.set_tag(run_id, "retrain_reasons", "; ".join(decision.reasons)[:5000])
    if version is not None:
        client.set_model_version_tag(
            model_name, version, "retrain_reasons", "; ".join(decision.reasons)[:5000]
        )


# --------------------------------------------------------------------------- Kubeflow
PACKAGE_NAME = re.compile(r"spam-training-v(\d+)\.ya?ml")


def pipeline_package(path: str) -> Path:
    """The compiled pipeline: the file, or a directory's newest ``spam-training-v<N>.yaml``."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        versions = [
            (int(m.group(1)), f) for f in p.iterdir() if (m := PACKAGE_NAME.fullmatch(f.name))
        ]
        if versions:
            return max(versions)[1]
        raise RetrainConfigError(f"{p}: no compiled spam-training-v<N>.yaml")
    raise RetrainConfigError(f"{p}: no compiled pipeline there (SPAM_RETRAIN_PIPELINE_PACKAGE)")


def pipeline_parameters(package: Path) -> dict[str, dict[str, Any]]:
    """The pipeline's declared input parameters (name -> {parameterType, defaultValue})."""
    import yaml

    docs = list(yaml.safe_load_all(package.read_text()))
    spec = docs[0] if docs else None
    try:
        return dict(spec["root"]["inputDefinitions"]["parameters"])
    except (TypeError, KeyError):
        raise RetrainConfigError(f"{package}: not a compiled KFP pipeline") from None


def pipeline_arguments(
    policy: RetrainPolicy, trainer: Any, package: Path, tracking_uri: str | None
) -> dict[str, Any]:
    """Arguments of a KFP run: the trainer's model name, experiment and gates, the MLflow
    tracking URI when one is set, the feedback log (``SPAM_RETRAIN_FEEDBACK_LOG_URL``, when set
    and ``SPAM_TRAIN_FEEDBACK`` is on) and its recent window, then ``pipeline_arguments``; only
    parameters the compiled pipeline declares (an unknown name is a configuration error)."""
    declared = pipeline_parameters(package)
    args: dict[str, Any] = {
        "model_name": trainer.model_name,
        "mlflow_experiment": trainer.experiment,
        "gate_f1_min": trainer.gate_f1_min,
        "gate_roc_auc_min": trainer.gate_roc_auc_min,
        "gate_cold_fpr_max": trainer.gate_cold_fpr_max,
    }
    if tracking_uri and not tracking_uri.startswith("sqlite:"):
        args["mlflow_tracking_uri"] = tracking_uri
    if policy.feedback_log_url and trainer.train_feedback:  # the log this decision counted
        # the pipeline's pods have no AZURE_STORAGE_ACCOUNT_NAME: the URL names the account
        args["feedback_log"] = account_qualified(policy.feedback_log_url)
        args["feedback_recent_days"] = trainer.train_feedback_recent_days
    args = {k: v for k, v in args.items() if k in declared}
    unknown = sorted(set(policy.pipeline_arguments) - set(declared))
    if unknown:
        raise RetrainConfigError(
            f"SPAM_RETRAIN_PIPELINE_ARGUMENTS: {', '.join(unknown)} not parameters of "
            f"{package.name} ({', '.join(sorted(declared))})"
        )
    return args | dict(policy.pipeline_arguments)


class _KfpRecords(logging.Filter):
    """kfp's client logs each failed health check with its traceback on the *root* logger (five
    tries); the failure reaches the user once, as the submission's error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{os.sep}kfp{os.sep}" not in record.pathname


@contextlib.contextmanager
def _without_kfp_root_logging() -> Iterator[None]:
    root, kfp_records = logging.getLogger(), _KfpRecords()
    root.addFilter(kfp_records)
    try:
        yield
    finally:
        root.removeFilter(kfp_records)


@contextlib.contextmanager
def _kfp_client(
    policy: RetrainPolicy, host: str | None
) -> Iterator[tuple[Any, str, io.StringIO, Any]]:
    """The real ``kfp.Client`` for ``host`` (or ``policy.kfp_host``), its host, what it prints
    (UI links) and the standard output from before (for our own messages meanwhile); its
    root-logger tracebacks and FutureWarnings held back meanwhile."""
    import sys
    import warnings

    import kfp

    host = host or policy.kfp_host
    if not host:
        raise RetrainConfigError(
            "mode kfp needs a KFP endpoint: --kfp-host or SPAM_RETRAIN_KFP_HOST"
        )
    credentials = None
    if policy.kfp_token_path is not None:
        from kfp.client import ServiceAccountTokenVolumeCredentials

        credentials = ServiceAccountTokenVolumeCredentials(str(policy.kfp_token_path))
    printed = io.StringIO()  # the client prints UI links; they go into the record instead
    stdout = sys.stdout
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(printed),
        _without_kfp_root_logging(),
    ):
        warnings.simplefilter("ignore", FutureWarning)
        client = kfp.Client(
            host=host,
            namespace=policy.kfp_namespace or "kubeflow",
            credentials=credentials,
        )
        yield client, host, printed, stdout


def submit_kfp(
    policy: RetrainPolicy,
    package: Path,
    arguments: dict[str, Any],
    run_name: str,
    host: str | None = None,
) -> dict[str, Any]:
    """Submit a run of the compiled pipeline with the real ``kfp.Client``; its identifiers."""
    with _kfp_client(policy, host) as (client, host, printed, _):
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments=arguments,
            run_name=run_name,
            experiment_name=policy.kfp_experiment,
            namespace=policy.kfp_namespace,
        )
    info = result.run_info
    return {
        "kfp_host": host,
        "kfp_run_id": result.run_id,
        "kfp_experiment": policy.kfp_experiment,
        "kfp_experiment_id": getattr(info, "experiment_id", None),
        "run_name": run_name,
        "pipeline_package": package.name,
        "arguments": arguments,
        "links": [line.split(": ", 1)[-1] for line in printed.getvalue().splitlines() if line],
    }


RUN_SUCCEEDED = "SUCCEEDED"
RUN_FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"})
"""The KFP v2 run states after which nothing more happens (``V2beta1RuntimeState``). kfp's own
``wait_for_run_completion`` has no CANCELED in its list and would wait a cancelled run out."""


@dataclass
class RunWait:
    """How waiting for a KFP run ended: its last state, whether that state is final, how long."""

    run_id: str
    state: str
    finished: bool
    waited: timedelta
    error: str | None = None
    finished_at: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.finished and self.state == RUN_SUCCEEDED

    def to_outcome(self) -> dict[str, Any]:
        return {
            "kfp_state": self.state,
            "kfp_finished": self.finished,
            "kfp_error": self.error,
            "kfp_finished_at": self.finished_at,
            "waited": format_duration(self.waited),
        }


def wait_kfp_run(
    policy: RetrainPolicy,
    run_id: str,
    host: str | None = None,
    *,
    timeout: timedelta | None = None,
    poll: timedelta | None = None,
    on_state: Callable[[str], None] | None = None,
) -> RunWait:
    """Read the run (``kfp.Client.get_run``) every ``poll`` until its state is final or
    ``timeout`` has passed (then ``finished`` is False: the run goes on in Kubeflow)."""
    import time

    timeout = policy.wait_timeout if timeout is None else timeout
    poll = policy.wait_poll if poll is None else poll
    started = time.monotonic()
    last = None
    with _kfp_client(policy, host) as (client, _, _, stdout):
        while True:
            run = client.get_run(run_id)
            state = str(run.state or "RUNTIME_STATE_UNSPECIFIED").upper()
            if state != last and on_state is not None:
                with contextlib.redirect_stdout(stdout):
                    on_state(state)
            last = state
            waited = timedelta(seconds=time.monotonic() - started)
            if state in RUN_FINAL_STATES:
                error = getattr(run, "error", None)
                finished_at = getattr(run, "finished_at", None)
                return RunWait(
                    run_id,
                    state,
                    True,
                    waited,
                    error=(getattr(error, "message", None) or None) if error else None,
                    finished_at=str(finished_at) if finished_at else None,
                )
            if waited + poll > timeout:
                return RunWait(run_id, state, False, waited)
            time.sleep(poll.total_seconds())
