"""``spam-platform down``, ``status``, ``demo`` and the supervisor's hidden entry."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from spam_local.cli import app
from spam_trainer.cli.common import console, fail


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
    try:
        run(
            settings,
            key,
            lambda line: console.print(line, soft_wrap=True, markup=False),
            messages,
            archive if archive.is_file() else None,
        )
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc} (is the platform up? `make up`)", 1) from None


@app.command("local-supervise", hidden=True)
def local_supervise() -> None:
    """(internal) Run and supervise Triton, transformer and gateway until SIGTERM."""
    from spam_local.config import get_local_settings
    from spam_local.platform import supervise

    raise typer.Exit(supervise(get_local_settings()))
