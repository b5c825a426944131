"""``spam-platform up / down / status / demo``: the local platform's commands.

They join the trainer's ``spam-platform`` CLI through the ``spam_platform.cli`` entry point
(see ``images/local/pyproject.toml``) and share its options, consoles and error exit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from spam_trainer.cli import CorpusOpt, _fail, console, err, state
from spam_trainer.progress import Reporter

app = typer.Typer()


# --------------------------------------------------------------------------- local platform
@app.command()
def up(corpus: CorpusOpt = None) -> None:
    """Run the whole platform on this machine (MLflow, Triton, transformer, gateway)."""
    from spam_core.errors import SpamCoreError
    from spam_local.config import get_local_settings
    from spam_local.platform import PlatformError
    from spam_local.platform import up as platform_up
    from spam_local.processes import ProcessError

    if corpus:
        os.environ["SPAM_CORPUS"] = corpus
        get_local_settings.cache_clear()
    settings = get_local_settings()
    with Reporter(quiet=state.quiet, console=err) as reporter:
        try:
            result = platform_up(
                settings,
                reporter.note,
                lambda d, t: reporter.count_progress("Ray Tune trials", d, t),
            )
        except (PlatformError, ProcessError, SpamCoreError, ValueError) as exc:
            raise _fail(str(exc), 1) from None
    key_note = (
        "generated; kept in $SPAM_HOME/run/api-key"
        if result.generated_key
        else ("from SPAM_API_KEY" if settings.api_key else "kept in $SPAM_HOME/run/api-key")
    )
    console.print(
        f"[bold green]spam-platform is up[/] at {result.url} — staging "
        f"v{result.versions['staging']}, production v{result.versions['production']}",
        soft_wrap=True,
    )
    console.print(f"API key (operator, {key_note}): {result.api_key}", soft_wrap=True)
    console.print("try:", soft_wrap=True)
    body = (
        '{"email_id": "demo-1", "subject": "WINNER!!! Claim your prize now", "body": '
        '"Congratulations, you won $1,000,000! Click http://203.0.113.9/claim", '
        '"sender": "lottery@example.com"}'
    )
    console.print(
        f"  curl -s {result.url}/predict -H 'X-API-Key: {result.api_key}' "
        f"-H 'X-Environment: production' -H 'Content-Type: application/json' "
        f"-d '{body}'",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    console.print("stop with: make down (or spam-platform down)", soft_wrap=True)


@app.command()
def down() -> None:
    """Stop the local platform."""
    from spam_local.config import get_local_settings
    from spam_local.platform import down as platform_down

    stopped = platform_down(get_local_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status() -> None:
    """Processes and readiness of the local platform."""
    from spam_local.config import get_local_settings
    from spam_local.platform import status as platform_status

    table = Table(title="local platform")
    table.add_column("component")
    table.add_column("state")
    for name, value in platform_status(get_local_settings()).items():
        table.add_row(name, value)
    console.print(table)


@app.command()
def demo() -> None:
    """Walk through the running local platform: health, both tracks, batch, inference log."""
    import tarfile

    from spam_local.config import get_local_settings
    from spam_local.demo import run

    settings = get_local_settings()
    key_file = settings.run_dir / "api-key"
    key = settings.api_key or (key_file.read_text().strip() if key_file.is_file() else None)
    if not key:
        raise _fail("no API key: set SPAM_API_KEY to the key `make up` printed")
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
    try:
        run(
            settings,
            key,
            lambda line: console.print(line, soft_wrap=True, markup=False),
            messages,
            archive if archive.is_file() else None,
        )
    except Exception as exc:
        raise _fail(f"{type(exc).__name__}: {exc} (is the platform up? `make up`)", 1) from None


@app.command("local-supervise", hidden=True)
def local_supervise() -> None:
    """(internal) Run and supervise Triton, transformer and gateway until SIGTERM."""
    from spam_local.config import get_local_settings
    from spam_local.platform import supervise

    raise typer.Exit(supervise(get_local_settings()))
