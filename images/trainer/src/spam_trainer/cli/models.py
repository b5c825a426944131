"""``spam-platform promote`` and ``score``: the registered models, compared and used."""

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
        typer.Option(help="Largest accepted drop of F1, ROC-AUC, precision or recall."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Compare only; move nothing.")] = False,
    feast_repo: FeastRepoOpt = None,
) -> None:
    """Move an alias (production) to a candidate after comparing both on the same test data."""
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
        )
    except PromotionError as exc:
        raise fail(str(exc)) from None
    table = Table(
        title=f"{settings.model_name}: v{result.candidate} vs "
        f"{'v' + result.previous if result.previous else 'no'} {to} "
        f"({result.n_test} test e-mails)"
    )
    for col in ("metric", f"v{result.candidate}", "current"):
        table.add_column(col, justify="right")
    for k in ("roc_auc", "f1", "precision", "recall"):
        prev = result.previous_metrics[k] if result.previous_metrics else None
        table.add_row(
            k, f"{result.candidate_metrics[k]:.4f}", "-" if prev is None else f"{prev:.4f}"
        )
    console.print(table)
    for reason in result.reasons:
        console.print(f"- {reason}", soft_wrap=True)
    verb = "would move" if dry_run else "moved"
    if result.promoted and result.previous != result.candidate:
        console.print(f"alias [bold green]{to}[/] {verb} to v{result.candidate}")
    elif not result.promoted:
        console.print(
            f"[bold red]refused[/]: alias {to} stays on "
            f"{'v' + result.previous if result.previous else 'nothing'}"
        )
        raise typer.Exit(1)


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
    from spam_core.bundle import ModelBundle
    from spam_core.bundle import resolve_model_ref as resolve_model
    from spam_core.errors import SpamCoreError
    from spam_trainer.registry import configure_mlflow
    from spam_trainer.score import score_to_file
    from spam_trainer.settings import get_trainer_settings

    try:
        if model.startswith(("models:/", "runs:/")):
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
