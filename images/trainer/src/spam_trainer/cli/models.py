"""``spam-platform publish``, ``promote``, ``rollback`` and ``score``: the registered models,
published, compared, moved back and used."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spam_trainer.cli.common import (
    FeastRepoOpt,
    app,
    console,
    err,
    fail,
    reputation_source,
    state,
)
from spam_trainer.progress import Reporter

ConnectionStringOpt = Annotated[
    str | None,
    typer.Option(
        "--connection-string",
        envvar="AZURE_STORAGE_CONNECTION_STRING",
        help="Azure Storage connection string for abfs:// (Azurite locally); default: "
        "AZURE_STORAGE_ACCOUNT_NAME with DefaultAzureCredential (workload identity, az login).",
        show_default=False,
    ),
]


@app.command()
def publish(
    version: Annotated[str, typer.Option(help="Registered model version to publish.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Publish location: abfs://<models container>[/<prefix>] or a local "
            "directory (default: $SPAM_PUBLISH_URL, else the local platform's "
            "$SPAM_HOME/published when it exists).",
        ),
    ] = None,
    connection_string: ConnectionStringOpt = None,
) -> None:
    """Publish a registered version where the chart reads it (idempotent, checksummed)."""
    from spam_trainer.publish import PublishError, publish_version
    from spam_trainer.registry import configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    if not version.isdigit():
        raise fail(f"--version must be a registered version number, not {version!r}")
    settings = get_trainer_settings()
    location = to or settings.publish_location()
    if not location:
        raise fail(
            "no publish location: pass --to or set SPAM_PUBLISH_URL (the local platform "
            "publishes to $SPAM_HOME/published)"
        )
    configure_mlflow(settings)
    try:
        result = publish_version(
            settings.model_name, version, location, connection_string=connection_string
        )
    except PublishError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"published {result.model_name} v{result.version} -> {result.url}: "
        f"{len(result.uploaded)} file(s) uploaded ({result.bytes_uploaded} bytes), "
        f"{len(result.unchanged)} unchanged, {result.verified} verified by SHA-256",
        soft_wrap=True,
    )
    console.print(f"storageUri: {result.url}/triton", soft_wrap=True)


def _num(value: float | None, fmt: str = ".4f") -> str:
    import math

    if value is None or not math.isfinite(value):
        return "-"
    return format(value, fmt)


def promotion_table(result, model_name: str) -> Table:
    """Metric per slice: candidate vs current holder, delta, within the tolerance or not."""
    holder = f"v{result.previous}" if result.previous else "none"
    table = Table(
        title=f"{model_name}: v{result.candidate} (candidate) vs {holder} "
        f"({result.alias}), tolerance {result.tolerance}"
    )
    for col in ("slice", "metric", f"v{result.candidate}", holder, "delta"):
        table.add_column(col, justify="right")
    table.add_column("within tolerance")
    for row in result.rows:
        fmt = ".0f" if row.metric == "n" else ".4f"
        verdict = (
            "[green]yes[/]"
            if row.within
            else "[bold red]no[/]"
            if row.within is not None
            else "[dim]not gated[/]"
        )
        if row.metric == "n":
            verdict = ""
        table.add_row(
            row.slice,
            row.metric,
            _num(row.candidate, fmt),
            _num(row.previous, fmt),
            _num(row.delta, "+.4f") if row.metric != "n" else "",
            verdict,
        )
    return table


def shadow_table(result, model_name: str) -> Table | None:
    """Live traffic: the candidate's shadow rows beside production, agreement, and each model's
    accuracy and ham false-positive rate on the rows users labelled."""
    shadow = result.shadow
    if shadow is None or shadow.error:
        return None
    holder = f"v{result.previous}" if result.previous else "none"
    table = Table(
        title=f"{model_name}: shadow scoring on live production traffic, "
        f"v{result.candidate} (candidate) beside {holder} (production)"
    )
    for col in ("rows", "agreement", "labelled"):
        table.add_column(col, justify="right")
    for side in (f"v{result.candidate}", holder):
        table.add_column(f"{side} accuracy", justify="right")
        table.add_column(f"{side} ham FPR", justify="right")
    metrics = []
    for side in (shadow.candidate_metrics, shadow.previous_metrics):
        metrics += [_num(side["accuracy"]), _num(side["ham_fpr"])] if side else ["-", "-"]
    agreement = "-" if shadow.agreement is None else f"{shadow.agreement:.2%}"
    table.add_row(str(shadow.rows), agreement, str(shadow.labelled), *metrics)
    return table


@app.command()
def promote(
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "production",
    version: Annotated[
        str | None, typer.Option(help="Candidate version (default: the one holding --from).")
    ] = None,
    from_alias: Annotated[
        str, typer.Option("--from", help="Alias naming the candidate.")
    ] = "staging",
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="Dataset whose test split both versions are scored on (default: the local one)."
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="Largest accepted worsening of a gated metric on any slice "
            "(default SPAM_PROMOTE_TOLERANCE)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Print the comparison and the decision; move and record nothing.")
    ] = False,
    feedback_log: Annotated[
        str | None,
        typer.Option(
            help="Feedback log read for the recent feedback slice "
            "(default SPAM_RETRAIN_FEEDBACK_LOG_URL, else $SPAM_HOME/feedback-logs)."
        ),
    ] = None,
    shadow_log: Annotated[
        str | None,
        typer.Option(
            help="The gateways' shadow log, read for the candidate's agreement with production "
            "on live traffic (default SPAM_SHADOW_LOG_URL, else $SPAM_HOME/shadow-logs)."
        ),
    ] = None,
    feast_repo: FeastRepoOpt = None,
) -> None:
    """Move an alias (production) to a candidate after comparing both on the same evaluation
    data: the test split, the recent feedback slice, the cold-start slice, and live traffic
    the gateway scored with the candidate in production's shadow."""
    from spam_trainer.promote import PromotionError
    from spam_trainer.promote import promote as run_promote
    from spam_trainer.registry import ALIASES, configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    if to not in ALIASES:
        raise fail(f"--to must be one of {', '.join(ALIASES)}, not {to!r}")
    settings = get_trainer_settings()
    configure_mlflow(settings)
    data_dir = dataset or settings.datasets_dir / "spamassassin"
    try:
        result = run_promote(
            settings,
            dataset_dir=data_dir,
            to=to,
            version=version,
            source_alias=from_alias,
            tolerance=tolerance,
            dry_run=dry_run,
            reputation=reputation_source(feast_repo),
            feedback_url=feedback_log,
            shadow_url=shadow_log,
        )
    except PromotionError as exc:
        raise fail(str(exc)) from None
    console.print(promotion_table(result, settings.model_name))
    if (table := shadow_table(result, settings.model_name)) is not None:
        console.print(table)
    for name, note in result.notes.items():
        console.print(f"[dim]{name}: {note}[/]", soft_wrap=True)
    for reason in result.reasons:
        console.print(f"- {reason}", soft_wrap=True)
    verb = "would move" if dry_run else "moved"
    if result.previous == result.candidate:
        console.print(f"nothing to promote: alias {to} is on v{result.candidate} already")
    elif result.promoted:
        console.print(f"alias [bold green]{to}[/] {verb} to v{result.candidate}")
    else:
        console.print(
            f"[bold red]{'would refuse' if dry_run else 'refused'}[/]: alias {to} stays on "
            f"{'v' + result.previous if result.previous else 'nothing'}"
        )
        raise typer.Exit(1)


@app.command()
def rollback(
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Version to go back to (default: the one that held the alias before the "
            "current one, from the recorded alias history).",
        ),
    ] = None,
    track: Annotated[
        str, typer.Option(help="Alias (model track) to move back: production or staging.")
    ] = "production",
    reason: Annotated[
        str, typer.Option(help="Why: recorded with the rollback (tags and alias history).")
    ] = "manual rollback",
    by: Annotated[
        str | None,
        typer.Option(help="Who: recorded with the rollback (default $GITHUB_ACTOR, else $USER)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would happen; move nothing.")] = False,
    version_file: Annotated[
        Path | None,
        typer.Option(help="Also write the version the alias now names to this file (workflows)."),
    ] = None,
) -> None:
    """Move a track's alias back to a published version that passed its gates."""
    from spam_trainer.registry import configure_mlflow
    from spam_trainer.rollback import RollbackError
    from spam_trainer.rollback import rollback as run_rollback
    from spam_trainer.settings import get_trainer_settings

    if to is not None and not to.isdigit():
        raise fail(f"--to must be a registered version number, not {to!r}")
    settings = get_trainer_settings()
    configure_mlflow(settings)
    try:
        result = run_rollback(settings, alias=track, to=to, reason=reason, by=by, dry_run=dry_run)
    except RollbackError as exc:
        raise fail(str(exc)) from None
    was = f"v{result.previous}" if result.previous else "nothing"
    if result.previous == result.target:
        console.print(f"alias {track} already names v{result.target}: nothing to roll back")
    elif dry_run:
        console.print(f"alias {track} would move back from {was} to v{result.target}")
    else:
        console.print(
            f"alias [bold]{track}[/] moved back from {was} to v{result.target} "
            f"(by {result.by}: {result.reason})",
            soft_wrap=True,
        )
        console.print(
            f"serve it: helm upgrade <release> charts/spam-platform --reuse-values "
            f"--set global.model.tracks.{track}.version={result.target} (cluster), "
            "or spam-platform up (local platform)",
            soft_wrap=True,
        )
    if version_file is not None:
        version_file.write_text(f"{result.target}\n")


@app.command()
def score(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Message files, directories, archives, maildirs, mboxes (anything ingest reads)."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="models:/spam-detector@production, "
            "models:/name/N, runs:/…, or an exported bundle dir.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines output file.")],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 256,
    feast_repo: FeastRepoOpt = None,
    explain: Annotated[
        bool,
        typer.Option(
            help="Add each message's top contributing features (TreeSHAP, signed, in log-odds) "
            "as `explanation`."
        ),
    ] = False,
    top: Annotated[
        int, typer.Option(min=1, max=50, help="Contributions per explanation (with --explain).")
    ] = 10,
) -> None:
    """Score raw e-mails with a model, no server: one JSON line per message."""
    from spam_core.bundle import ModelBundle, is_registry_uri
    from spam_core.bundle import resolve_model_ref as resolve_model
    from spam_core.errors import SpamCoreError
    from spam_trainer.registry import configure_mlflow
    from spam_trainer.score import score_to_file
    from spam_trainer.settings import get_trainer_settings

    try:
        if is_registry_uri(model):
            configure_mlflow(get_trainer_settings())
        path, version = resolve_model(model)
        bundle = ModelBundle.load(path)
        reputation = reputation_source(feast_repo)
        with Reporter(quiet=state.quiet, console=err) as reporter:
            summary = score_to_file(
                inputs,
                bundle,
                output,
                reputation=reputation,
                model_version=version,
                batch_size=batch_size,
                on_batch=lambda n: reporter.advance("scored", n),
                explain=top if explain else 0,
            )
    except SpamCoreError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"scored {summary.scored} e-mails ({summary.spam} spam) with "
        f"{bundle.meta.model_name} v{version or bundle.version} -> {output}; "
        f"{summary.errors} unreadable, {summary.skipped} non-message files skipped",
        soft_wrap=True,
    )
