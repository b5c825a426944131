"""``spam-platform down``, ``status``, ``demo`` and the supervisor's hidden entry."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from spam_local.cli import app, local_settings
from spam_trainer.cli.common import console, fail


@app.command()
def down() -> None:
    """Stop the local platform."""
    from spam_local.platform import down as platform_down

    stopped = platform_down(local_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status() -> None:
    """Processes and readiness of the local platform."""
    from spam_local.platform import status as platform_status

    table = Table(title="local platform")
    table.add_column("component")
    table.add_column("state")
    for name, value in platform_status(local_settings()).items():
        table.add_row(name, value)
    console.print(table)


@app.command()
def demo(
    drift: bool = typer.Option(
        True, help="The drift job on a normal and a shifted stream of corpus e-mails."
    ),
    loop: bool = typer.Option(
        True,
        help='End with the feedback loop (a sender\'s mail scored as spam, "not spam" reports, '
        "its next e-mail) and the retrain / promote / rollback dry runs.",
    ),
) -> None:
    """Walk through the running local platform: health, both tracks, batch, inference log,
    drift detected on a shifted stream next to none on normal traffic, then the feedback loop:
    "not spam" reports move a sender's next e-mail toward ham; retrain, promote and rollback
    (dry runs)."""
    import os
    import tarfile

    from spam_core.errors import SourceError
    from spam_local.demo import drift_streams, run

    settings = local_settings()
    key_file = settings.run_dir / "api-key"
    key = settings.api_key or (key_file.read_text().strip() if key_file.is_file() else None)
    if not key:
        raise fail("no API key: set SPAM_API_KEY to the key `make up` printed")
    messages: list[bytes] = []
    corpus = Path(settings.resolved_corpus())
    archive = corpus / "20030228_spam.tar.bz2"
    if archive.is_file():
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith("cmds") and len(messages) < 20:
                    messages.append(tar.extractfile(member).read())  # type: ignore[union-attr]
    if not messages:
        from spam_local.demo import MEETING, SCAM

        messages = [json.dumps(m).encode() for m in (SCAM, MEETING)]
    streams = None
    if drift:
        try:
            streams = drift_streams(settings.resolved_corpus(), settings.resolved_cache_dir)
        except SourceError as exc:
            raise fail(f"cannot read the corpus for the drift streams: {exc}") from None
        # versions other than the served ones get their baselines from the local registry
        os.environ.setdefault("MLFLOW_TRACKING_URI", settings.mlflow_uri)
    loop_senders, loop_contents = None, None
    if loop:
        from spam_local.demo import legitimate_mail, spam_heavy_senders

        dataset = settings.datasets_dir / "spamassassin"
        try:
            loop_senders = spam_heavy_senders(dataset)
            loop_contents = legitimate_mail(dataset)
        except SourceError as exc:
            raise fail(f"cannot read the dataset for the feedback loop: {exc}") from None
    try:
        results = run(
            settings,
            key,
            lambda line: console.print(line, soft_wrap=True, markup=False),
            messages,
            _batch_input(settings, archive) if archive.is_file() else None,
            streams,
            loop_senders,
            loop_contents,
        )
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc} (is the platform up? `make up`)", 1) from None
    if streams is not None:
        _print_drift(results["drift"], streams)  # type: ignore[arg-type]
    if loop_senders is not None:
        _print_loop(results["loop"])  # type: ignore[arg-type]


def _print_loop(run) -> None:
    from spam_local.demo import LEGIT

    table = Table(title='feedback loop: one sender, before and after its "not spam" reports')
    table.add_column("")
    table.add_column("value")
    how = (
        "a corpus sender with a spam-only history (found by scoring)"
        if run.found_by_scoring
        else f'a fresh sender given a spam history by "spam" reports {run.spam_statuses}'
    )
    table.add_row("sender", f"{run.sender}: {how}")
    source = "the demo's own" if run.subject == LEGIT["subject"] else "the corpus's test split"
    table.add_row("e-mail", f"{run.subject[:70]!r} (a ham e-mail: {source})")
    table.add_row("same e-mail, sender without history", f"p={run.content_only:.3f}")
    table.add_row("before the reports", f"{run.before_label} (p={run.before:.3f})")
    table.add_row('"not spam" reports', str(run.statuses))
    if run.flipped:
        moved = "[green]spam -> ham[/]"
    elif run.after < run.before:
        moved = "[yellow]toward ham, no change of label[/]"
    else:
        moved = "[red]not toward ham[/]"
    table.add_row("same e-mail again", f"{run.after_label} (p={run.after:.3f}): {moved}")
    console.print(table)


def _batch_input(settings, archive: Path) -> Path:
    """A copy of ``archive`` where the local gateway takes batch inputs from (it refuses any
    other location)."""
    import shutil

    dest = settings.batch_input_dir / archive.name
    if not dest.is_file() or dest.stat().st_size != archive.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest)
    return dest


def _print_drift(runs, streams) -> None:
    """The two verdicts side by side."""
    from spam_local.demo import top_drifting

    normal, shifted = runs
    described = {
        "normal": f"{normal.sent} unseen corpus e-mails (test split, "
        f"{streams.normal_spam / max(1, len(streams.normal)):.0%} spam)",
        "shifted": f"{shifted.sent} corpus e-mails, spam only",
    }
    table = Table(title="drift: normal traffic vs a shifted stream", show_lines=True)
    table.add_column("")
    for r in runs:
        table.add_column(f"{r.stream} → {r.environment}")

    def row(name: str, cell) -> None:
        table.add_row(name, *(cell(r) for r in runs))

    def version(r):
        return r.report.versions[0] if r.report.versions else None

    row("stream", lambda r: described[r.stream])
    row("model version", lambda r: ", ".join(f"v{v.model_version}" for v in r.report.versions))
    row("rows in the window", lambda r: str(r.report.rows))
    row(
        "verdict",
        lambda r: (
            ("[bold red]DRIFT DETECTED[/]" if r.report.drift_detected else "[green]no drift[/]")
            + f" ({r.report.status})"
        ),
    )
    row(
        "drift score",
        lambda r: "–" if r.report.drift_score is None else f"{r.report.drift_score:.2f}",
    )
    row(
        "predicted spam rate",
        lambda r: (
            f"{version(r).spam_rate.current:.1%} (training {version(r).spam_rate.reference:.1%})"
            if version(r) and version(r).spam_rate
            else "–"
        ),
    )
    row(
        "score PSI / KS",
        lambda r: (
            f"{version(r).score.psi:.2f} / {version(r).score.ks_statistic:.2f}"
            if version(r) and version(r).score and version(r).score.psi is not None
            else "–"
        ),
    )
    row(
        "drifted features",
        lambda r: (
            f"{len(version(r).drifted_features)} of {len(version(r).features)}"
            if version(r) and version(r).features
            else "–"
        ),
    )
    row("top drifting", lambda r: "\n".join(top_drifting(r.report)) or "none")
    console.print(table)
    for r in runs:  # in full, not cut to a table cell
        console.print(
            f"{r.stream} → {r.environment}: {r.report.report_url}", soft_wrap=True, markup=False
        )
        for html in r.report.html_reports.values():
            console.print(f"  HTML: {html}", soft_wrap=True, markup=False)
        for reason in r.report.reasons:
            console.print(f"  - {reason}", soft_wrap=True, markup=False)


@app.command("local-supervise", hidden=True)
def local_supervise() -> None:
    """(internal) Run and supervise Triton, transformer and gateway until SIGTERM."""
    from spam_local.platform import supervise

    raise typer.Exit(supervise(local_settings()))
