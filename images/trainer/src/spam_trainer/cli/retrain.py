"""``spam-platform retrain``: decide from drift, feedback volume and model age whether to train
again (``spam_trainer.retrain``), then train here (the ``train`` path, gates included) or
submit the compiled Kubeflow pipeline.

Exit codes: 0 decided (no retrain, or ``--dry-run``) or retrained (a version with alias
staging, or a pipeline run submitted — with ``--wait``: and succeeded); 2 bad configuration or
unreadable inputs; 3 the new version missed its quality gates (registered without alias;
nothing that serves traffic changed); 1 the training or the submission failed, or (``--wait``)
the run ended in another state than SUCCEEDED; 4 (``--wait``) the run was still going at the
timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from spam_trainer.cli.common import CorpusOpt, app, console, err, fail, state

EXIT_FAILED, EXIT_CONFIG, EXIT_GATES, EXIT_WAIT_TIMEOUT = 1, 2, 3, 4


def decision_table(decision) -> Table:
    from rich import box

    verdict = "[bold green]retrain[/]" if decision.retrain else "[bold]no retrain[/]"
    table = Table(title=f"retrain policy: {verdict}", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("rule", "kind", "observed", "threshold", "fired"):
        table.add_column(col, overflow="fold")
    for rule in decision.rules:
        fired = "yes" if rule.fired else "no"
        if rule.fired:
            fired = f"[bold {'green' if rule.kind == 'trigger' else 'red'}]{fired}[/]"
        table.add_row(rule.name, rule.kind, rule.observed, rule.threshold, fired)
    return table


@app.command()
def retrain(
    dry_run: Annotated[
        bool, typer.Option(help="Decide and print only: no training, no submission, no record.")
    ] = False,
    mode: Annotated[
        str | None,
        typer.Option(
            help="local (train here, as `train` does) or kfp (submit the compiled pipeline); "
            "default $SPAM_RETRAIN_MODE or local."
        ),
    ] = None,
    kfp_host: Annotated[
        str | None,
        typer.Option(help="KFP API endpoint (mode kfp); default $SPAM_RETRAIN_KFP_HOST."),
    ] = None,
    wait: Annotated[
        bool | None,
        typer.Option(
            "--wait/--no-wait",
            help="Mode kfp: wait for the submitted run to finish and report its final state "
            "(exit 1 unless SUCCEEDED, 4 on timeout); default $SPAM_RETRAIN_WAIT or no.",
        ),
    ] = None,
    wait_timeout: Annotated[
        str | None,
        typer.Option(
            help="With --wait: give up after this long (30m, 6h, 1d); default "
            "$SPAM_RETRAIN_WAIT_TIMEOUT or 6h."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the decision record as JSON too.")
    ] = False,
    corpus: CorpusOpt = None,
    dataset: Annotated[
        Path | None, typer.Option(help="Mode local: train on this ingested dataset.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Mode local: Ray Tune trials ($SPAM_TRIALS).")
    ] = None,
    cpus: Annotated[int | None, typer.Option(min=1, help="Mode local: CPUs for Ray.")] = None,
    max_rounds: Annotated[
        int, typer.Option(min=10, help="Mode local: upper bound of boosting rounds.")
    ] = 1000,
    out: Annotated[
        Path | None, typer.Option(help="Mode local: working directory of the training.")
    ] = None,
) -> None:
    """Decide from the latest drift verdicts, the new feedback and the production model's age
    (policy: SPAM_RETRAIN_*) whether to retrain; then train locally or submit the Kubeflow
    pipeline. Exit 0 decided or retrained, 2 bad configuration, 3 gates failed, 1 failure."""
    import json

    from pydantic import ValidationError

    from spam_trainer.registry import configure_mlflow
    from spam_trainer.retrain import (
        RetrainConfigError,
        RetrainPolicy,
        decide,
        observe,
        record,
    )
    from spam_trainer.settings import get_trainer_settings

    try:
        policy = RetrainPolicy()
        if mode is not None:
            policy = policy.model_copy(update={"mode": _mode(mode)})
        if wait is not None:
            policy = policy.model_copy(update={"wait": wait})
        if wait_timeout is not None:
            policy = policy.model_copy(update={"wait_timeout": _duration(wait_timeout)})
    except ValidationError as exc:
        raise fail(f"retrain settings: {_validation(exc)}", EXIT_CONFIG) from None
    settings = get_trainer_settings()
    tracking_uri = configure_mlflow(settings)
    try:
        observations = observe(policy, home=settings.home, model_name=settings.model_name)
        decision = decide(policy, observations)
        package = arguments = None
        if decision.retrain and policy.mode == "kfp":  # a bad KFP setup is found before anything
            package, arguments = _kfp_plan(policy, settings, tracking_uri, kfp_host)
    except RetrainConfigError as exc:
        raise fail(str(exc), EXIT_CONFIG) from None
    console.print(decision_table(decision))
    for reason in decision.reasons:
        console.print(f"- {reason}", soft_wrap=True)
    if dry_run:
        decision.action = "dry_run" if decision.retrain else "none"
        if decision.retrain:
            console.print(f"dry run: would retrain ({policy.mode}); nothing started or recorded")
        if as_json:
            console.print_json(json.dumps(decision.to_dict()))
        return
    if decision.retrain and policy.mode == "kfp":
        _submit(decision, policy, package, arguments, kfp_host)
        if policy.wait and decision.action == "submitted":
            # recorded first: a wait cut short (the pod stopped) still leaves the submission
            # on record for the cooldown; the same record then gets the final state
            record(decision, policy.decisions_location(settings.home))
            _wait(decision, policy, kfp_host)
    elif decision.retrain:
        _train_here(
            decision,
            settings,
            corpus=corpus,
            dataset=dataset,
            trials=trials,
            cpus=cpus,
            max_rounds=max_rounds,
            out=out,
        )
    where = record(decision, policy.decisions_location(settings.home))
    console.print(f"decision recorded: {where}", soft_wrap=True)
    if as_json:
        console.print_json(json.dumps(decision.to_dict()))
    if decision.exit_code:
        raise typer.Exit(decision.exit_code)


def _mode(value: str) -> Literal["local", "kfp"]:
    if value not in ("local", "kfp"):
        raise fail(f"--mode must be local or kfp, not {value!r}", EXIT_CONFIG)
    return value  # type: ignore[return-value]


def _duration(value: str):
    from pydantic import TypeAdapter, ValidationError

    from spam_trainer.retrain import Duration

    try:
        duration = TypeAdapter(Duration).validate_python(value)
    except ValidationError:
        duration = None
    if duration is None or duration.total_seconds() <= 0:
        raise fail(f"--wait-timeout: {value!r} is not a duration (30m, 6h, 1d)", EXIT_CONFIG)
    return duration


def _validation(exc) -> str:
    return "; ".join(
        f"SPAM_RETRAIN_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
        for e in exc.errors()
    )


def _kfp_plan(policy, settings, tracking_uri: str, kfp_host: str | None):
    from spam_trainer.retrain import RetrainConfigError, pipeline_arguments, pipeline_package

    if not (kfp_host or policy.kfp_host):
        raise RetrainConfigError(
            "mode kfp needs a KFP endpoint: --kfp-host or SPAM_RETRAIN_KFP_HOST"
        )
    package = pipeline_package(policy.pipeline_package)
    return package, pipeline_arguments(policy, settings, package, tracking_uri)


def _submit(decision, policy, package, arguments, kfp_host: str | None) -> None:
    from spam_trainer.retrain import submit_kfp

    run_name = f"retrain-{decision.decided_at:%Y%m%d-%H%M%S}"
    try:
        decision.outcome = submit_kfp(policy, package, arguments, run_name, host=kfp_host)
    except Exception as exc:  # the client raises its own API and connection errors
        decision.action, decision.exit_code = "failed", EXIT_FAILED
        decision.outcome = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        err.print(f"[bold red]error:[/] KFP submission failed: {decision.outcome['error']}")
        return
    decision.action = "submitted"
    console.print(
        f"submitted Kubeflow run {decision.outcome['kfp_run_id']} of {package.name} "
        f"(experiment {policy.kfp_experiment})",
        soft_wrap=True,
    )


def _wait(decision, policy, kfp_host: str | None) -> None:
    """Wait for the submitted run; its final state into the decision's outcome and exit code.
    The action stays ``submitted`` whatever the run did: it was started, the cooldown counts it."""
    from spam_trainer.retrain import format_duration, wait_kfp_run

    run_id = decision.outcome["kfp_run_id"]
    console.print(
        f"waiting for Kubeflow run {run_id} (timeout {format_duration(policy.wait_timeout)})",
        soft_wrap=True,
    )
    try:
        waited = wait_kfp_run(
            policy,
            run_id,
            host=kfp_host,
            on_state=lambda state: console.print(f"  run state: {state}"),
        )
    except Exception as exc:  # the client's API and connection errors
        decision.exit_code = EXIT_FAILED
        decision.outcome["kfp_wait_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        err.print(
            f"[bold red]error:[/] cannot follow Kubeflow run {run_id}: "
            f"{decision.outcome['kfp_wait_error']}",
            soft_wrap=True,
        )
        return
    decision.outcome.update(waited.to_outcome())
    if waited.succeeded:
        console.print(
            f"Kubeflow run {run_id}: {waited.state} after {format_duration(waited.waited)}",
            soft_wrap=True,
        )
    elif waited.finished:
        decision.exit_code = EXIT_FAILED
        reason = f": {waited.error}" if waited.error else ""
        err.print(
            f"[bold red]error:[/] Kubeflow run {run_id} ended {waited.state}{reason}",
            soft_wrap=True,
        )
    else:
        decision.exit_code = EXIT_WAIT_TIMEOUT
        err.print(
            f"[bold red]error:[/] Kubeflow run {run_id} is still {waited.state} after "
            f"{format_duration(waited.waited)} (timeout "
            f"{format_duration(policy.wait_timeout)}); it goes on in Kubeflow",
            soft_wrap=True,
        )


def _train_here(decision, settings, **options) -> None:
    """The ``train`` command's path (dataset, settings, stages, gates, tables)."""
    from spam_trainer.cli.train import GATES_FAILED, print_training, run_training
    from spam_trainer.retrain import record_in_mlflow

    try:
        result = run_training(**options)
    except typer.Exit as exc:
        decision.action, decision.exit_code = "failed", exc.exit_code or EXIT_FAILED
        decision.outcome = {"error": "training failed (see the message above)"}
        return
    code = print_training(result)
    reg = result.registration
    decision.outcome = {
        "run_id": reg.run_id,
        "model_version": reg.version,
        "staging": reg.staging,
        "gate_failures": reg.gate_failures,
        "work_dir": str(result.work_dir),
    }
    if code == GATES_FAILED:
        decision.action, decision.exit_code = "gates_failed", EXIT_GATES
    else:
        decision.action = "trained"
    record_in_mlflow(decision, settings.model_name, reg.run_id, reg.version)
    if not state.quiet:
        err.print(f"[dim]decision recorded on MLflow run {reg.run_id}[/]")
