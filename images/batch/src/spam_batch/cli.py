"""``spam-batch run``: one batch scoring job (what a RayJob's entrypoint or the gateway's local
backend runs)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="spam-platform batch scoring jobs on Ray."
)


@app.callback()
def _main() -> None:
    """Batch scoring on Ray."""


@app.command()
def run(
    input_path: Annotated[
        str,
        typer.Option(
            "--input",
            help="Parquet of e-mails, or an archive "
            "/ message tree / mbox; local path or fsspec URL.",
        ),
    ],
    output_path: Annotated[
        str,
        typer.Option(
            "--output", help="Where the predictions Parquet goes (a .parquet path or a directory)."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            help="models:/spam-detector@production, models:/spam-detector/N, or a bundle directory."
        ),
    ],
    status_uri: Annotated[
        str, typer.Option("--status-dir", help="Directory (or URL) of the job status documents.")
    ],
    job_id: Annotated[str | None, typer.Option(help="Job id (default: a new one).")] = None,
    input_roots: Annotated[
        str | None,
        typer.Option(
            "--input-roots",
            envvar="SPAM_BATCH_INPUT_ROOTS",
            help="Where the input may be (space-separated absolute directories and "
            "abfs://<container>/<prefix> roots); set, the input must lie under one. The gateway "
            "always passes its own SPAM_GATEWAY_BATCH_INPUT_ROOTS.",
        ),
    ] = None,
    output_roots: Annotated[
        str | None,
        typer.Option(
            "--output-roots",
            envvar="SPAM_BATCH_OUTPUT_ROOTS",
            help="Where the output may go (as --input-roots).",
        ),
    ] = None,
    environment: Annotated[str, typer.Option(help="staging or production.")] = "production",
    cpus: Annotated[int | None, typer.Option(help="CPUs for a local Ray instance.")] = None,
    inference_log: Annotated[
        str | None,
        typer.Option(
            envvar="SPAM_INFERENCE_LOG_URL",
            help="Also append every prediction to this inference "
            "log (directory or fsspec URL, the gateway's layout).",
        ),
    ] = None,
    feast_repo: Annotated[
        str | None,
        typer.Option(
            envvar="SPAM_FEAST_REPO",
            help="Feast repository (directory with feature_store.yaml) of the sender "
            "reputation online store, the transformer's.",
        ),
    ] = None,
) -> None:
    """Score every e-mail of the input; exit 0 when the job succeeded, 1 when it failed."""
    from spam_batch.job import run_job
    from spam_core.jobs import JobStatus, StatusStore, new_job_id, valid_job_id
    from spam_core.locations import LocationRefused, confine
    from spam_core.scoring import TRACKS

    job_id = job_id or new_job_id()
    if not valid_job_id(job_id):
        typer.echo(f"error: invalid job id {job_id!r}", err=True)
        raise typer.Exit(2)
    if environment not in TRACKS:
        typer.echo(
            f"error: environment must be staging or production, not {environment!r}", err=True
        )
        raise typer.Exit(2)
    if not feast_repo:
        typer.echo(
            "error: --feast-repo (or SPAM_FEAST_REPO) is required: the model's sender "
            "reputation features come from that Feast online store",
            err=True,
        )
        raise typer.Exit(2)
    # the gateway's location rule again, here (defence in depth: whoever started the job)
    for what, value, roots in (
        ("input_path", input_path, input_roots),
        ("output_path", output_path, output_roots),
    ):
        if roots is not None:
            try:
                confine(value, roots.split(), what)
            except LocationRefused as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
    store = StatusStore(status_uri)
    status = store.read(job_id) or JobStatus(
        job_id=job_id,
        state="pending",
        environment=environment,
        model_ref=model,
        input_path=input_path,
        output_path=output_path,
    )
    result = run_job(
        status, store, num_cpus=cpus, inference_log_url=inference_log, feast_repo=feast_repo
    )
    typer.echo(result.model_dump_json())
    raise typer.Exit(0 if result.state == "succeeded" else 1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
