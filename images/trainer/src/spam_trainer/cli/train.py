"""``spam-platform train``: reputation -> features -> Ray Tune -> evaluation -> ONNX/Triton ->
MLflow registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from spam_trainer.cli.common import (
    CorpusOpt,
    app,
    console,
    err,
    fail,
    state,
)
from spam_trainer.cli.ingest import run_ingest
from spam_trainer.progress import Reporter


def _dataset_for(corpus: str | None, dataset: Path | None, reingest: bool) -> Path:
    """An ingested dataset: ``--dataset``, or the default one (re)ingested from the corpus."""
    from spam_core.errors import SourceError
    from spam_core.ingest import load_manifest
    from spam_core.settings import get_settings

    if dataset is not None:
        try:
            load_manifest(dataset)
        except SourceError as exc:
            raise fail(str(exc)) from None
        return dataset
    settings = get_settings()
    source = corpus or settings.resolved_corpus()
    default = settings.datasets_dir / "spamassassin"
    if not reingest:
        try:
            if load_manifest(default).source == str(source):
                if not state.quiet:
                    err.print(
                        f"[dim]reusing the dataset ingested from {source} in {default} "
                        "(--reingest to read the corpus again)[/]",
                        soft_wrap=True,
                    )
                return default
        except (SourceError, ValueError):
            pass
    _, out = run_ingest(str(source), default)
    return out


@app.command()
def train(
    corpus: CorpusOpt = None,
    dataset: Annotated[
        Path | None, typer.Option(help="Use this ingested dataset instead of ingesting --corpus.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Ray Tune trials (default $SPAM_TRIALS or 20).")
    ] = None,
    cpus: Annotated[int | None, typer.Option(min=1, help="CPUs for Ray (default: all).")] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Parallel trials (default: one per CPU; 1 is bit-reproducible)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the search and of every fit.")] = None,
    max_rounds: Annotated[int, typer.Option(min=10, help="Upper bound of boosting rounds.")] = 1000,
    register: Annotated[bool, typer.Option(help="Register the model in MLflow.")] = True,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Working directory for this training (default $SPAM_HOME/models/<time>)."
        ),
    ] = None,
    reingest: Annotated[
        bool, typer.Option(help="Ingest the corpus even if a dataset from it exists.")
    ] = False,
    feast_repo: Annotated[
        Path | None,
        typer.Option(
            help="Feast repository (feature_store.yaml) for the sender reputation history; its "
            "online store gets the latest totals (default $SPAM_FEAST_REPO or $SPAM_HOME/feast, "
            "created with SQLite when missing)."
        ),
    ] = None,
    feedback: Annotated[
        bool | None,
        typer.Option(
            "--feedback/--no-feedback",
            help="Add the feedback log's labeled e-mails to the training data and report the "
            "recent feedback slice (default $SPAM_TRAIN_FEEDBACK, on).",
        ),
    ] = None,
    feedback_log: Annotated[
        str | None,
        typer.Option(
            help="Feedback log (directory or abfs://; must exist) (default "
            "$SPAM_RETRAIN_FEEDBACK_LOG_URL or $SPAM_HOME/feedback-logs, absent: no feedback)."
        ),
    ] = None,
    feedback_recent_days: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Hold out the feedback reported within this many days of the newest report as "
            "the recent slice; 0: none (default $SPAM_TRAIN_FEEDBACK_RECENT_DAYS, 7).",
        ),
    ] = None,
) -> None:
    """Train: reputation (Feast) -> features -> Ray Tune XGBoost -> evaluation -> ONNX/Triton
    -> MLflow registry."""
    result = run_training(
        corpus=corpus,
        dataset=dataset,
        trials=trials,
        cpus=cpus,
        concurrency=concurrency,
        seed=seed,
        max_rounds=max_rounds,
        register=register,
        out=out,
        reingest=reingest,
        feast_repo=feast_repo,
        feedback=feedback,
        feedback_log=feedback_log,
        feedback_recent_days=feedback_recent_days,
    )
    code = print_training(result)
    if code:
        raise typer.Exit(code)


def run_training(
    *,
    corpus: str | None = None,
    dataset: Path | None = None,
    trials: int | None = None,
    cpus: int | None = None,
    concurrency: int | None = None,
    seed: int | None = None,
    max_rounds: int = 1000,
    register: bool = True,
    out: Path | None = None,
    reingest: bool = False,
    feast_repo: Path | None = None,
    feedback: bool | None = None,
    feedback_log: str | None = None,
    feedback_recent_days: float | None = None,
):
    """What ``train`` runs (``spam-platform retrain`` calls it too): the dataset, the search
    settings and the gates from the settings, all stages (``spam_trainer.train.train``).
    Returns the ``TrainResult``; a failure exits 1 with its message."""
    from datetime import UTC, datetime

    from spam_core.errors import SpamCoreError
    from spam_trainer.feedback_data import FeedbackOptions
    from spam_trainer.onnx_export import ParityError
    from spam_trainer.registry import Gates
    from spam_trainer.retrain import RetrainPolicy
    from spam_trainer.settings import get_trainer_settings
    from spam_trainer.train import TrainOptions
    from spam_trainer.train import train as run_train
    from spam_trainer.tune import TuneSettings

    settings = get_trainer_settings()
    data_dir = _dataset_for(corpus, dataset, reingest)
    tune = TuneSettings(
        trials=trials or settings.trials,
        cpus=cpus or settings.cpus,
        concurrency=concurrency,
        seed=settings.seed if seed is None else seed,
        max_rounds=max_rounds,
        ray_address=settings.ray_address,
    )
    workdir = out or settings.models_dir / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    use_feedback = settings.train_feedback if feedback is None else feedback
    feedback_opts = None
    if use_feedback:  # the log promote and retrain read (one default)
        feedback_opts = FeedbackOptions(
            url=feedback_log or RetrainPolicy().feedback_url(settings.home),
            recent_days=settings.train_feedback_recent_days
            if feedback_recent_days is None
            else feedback_recent_days,
            require=feedback_log is not None,
        )
    with Reporter(quiet=state.quiet, console=err) as reporter:
        opts = TrainOptions(
            dataset_dir=data_dir,
            out_dir=workdir,
            tune=tune,
            feast_repo=feast_repo or settings.resolved_feast_repo,
            model_name=settings.model_name,
            register=register,
            gates=Gates(
                settings.gate_f1_min, settings.gate_roc_auc_min, settings.gate_cold_fpr_max
            ),
            on_trial_done=lambda d, t: reporter.count_progress("Ray Tune trials", d, t),
            log=reporter.note,
            feedback=feedback_opts,
        )
        try:
            return run_train(opts, settings)
        except (SpamCoreError, ValueError, ParityError, RuntimeError) as exc:
            raise fail(str(exc), 1) from None


def print_training(result) -> int:
    """The test-split tables and the registration of a training; the exit code: 3 when the
    version was registered but missed its quality gates (no alias), else 0."""
    from spam_trainer.settings import get_trainer_settings

    settings = get_trainer_settings()
    m = result.trained.test_metrics
    reg = result.registration
    table = Table(
        title=f"test split ({int(m['n'])} e-mails) @ threshold {result.trained.threshold:.3f}"
    )
    for col in ("ROC-AUC", "PR-AUC", "precision", "recall", "F1", "FP", "FN"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{m['roc_auc']:.5f}",
        f"{m['pr_auc']:.5f}",
        f"{m['precision']:.4f}",
        f"{m['recall']:.4f}",
        f"{m['f1']:.4f}",
        str(int(m["fp"])),
        str(int(m["fn"])),
    )
    console.print(table)
    if result.feedback is not None:
        from spam_trainer.feedback_data import describe

        console.print(describe(result.feedback), soft_wrap=True)
    if result.slices:
        console.print(_slices_table(result.slices))
    console.print(
        f"MLflow run {reg.run_id}; ONNX parity max |dp| "
        f"{result.parity_max_abs_diff:.1e}; {result.seconds['total_s']:.0f} s in total "
        f"(tune {result.seconds['tune_s']:.0f} s); work dir {result.work_dir}",
        soft_wrap=True,
    )
    if reg.version is None:
        console.print(f"bundle (not registered): {result.work_dir / 'bundle'}", soft_wrap=True)
    elif reg.staging:
        console.print(
            f"registered {settings.model_name} v{reg.version} -> alias [bold green]staging[/]",
            soft_wrap=True,
        )
    else:
        console.print(
            f"registered {settings.model_name} v{reg.version}; [bold yellow]quality "
            f"gates not met, no alias[/]: {'; '.join(reg.gate_failures)}",
            soft_wrap=True,
        )
        return GATES_FAILED
    return 0


GATES_FAILED = 3
"""Exit code of a training whose version missed its quality gates (registered, no alias)."""


_SLICE_LABELS = {
    "all": "all",
    "known_sender": "known sender",
    "unknown_sender_known_domain": "new sender, old domain",
    "unknown_sender": "new sender + domain",
    "cold": "all, as if unknown",
    "content_only": "known, content only",
}


def _slices_table(sliced: dict[str, Any]) -> Table:
    """The test split by sender history and the sender-disjoint split, both forms."""
    from rich import box

    from spam_trainer.train import slice_table

    table = Table(
        title=f"test split by sender history @ threshold {sliced['threshold']:.3f}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("slice", no_wrap=True)
    table.add_column("form", no_wrap=True)
    for col in ("ham", "spam", "AUC", "prec.", "recall", "ham FPR"):
        table.add_column(col, justify="right", no_wrap=True)

    def num(v: float, fmt: str) -> str:
        return "-" if v != v else format(v, fmt)

    for row in slice_table(sliced).to_dict("records"):
        if row["evaluation"] == "test split":
            label = _SLICE_LABELS.get(row["slice"], row["slice"])
        elif row["evaluation"] == "recent feedback":
            label = "recent feedback" + (", as if unknown" if row["slice"] == "cold" else "")
        else:
            label = row["evaluation"]
        table.add_row(
            label,
            row["form"],
            str(int(row["ham"])),
            str(int(row["spam"])),
            num(row["roc_auc"], ".4f"),
            num(row["precision"], ".4f"),
            num(row["recall"], ".4f"),
            num(row["ham_fpr"], ".2%"),
        )
    return table
