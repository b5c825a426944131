"""What every ``spam-platform`` command shares: the Typer app, the consoles, ``--quiet``, the
error exit and the common options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="spam-platform",
    no_args_is_help=True,
    add_completion=False,
    help="spam-platform: e-mail spam detection, from corpus to served model.",
)
features_app = typer.Typer(no_args_is_help=True, help="Fit and inspect the 529 features.")
app.add_typer(features_app, name="features")

console = Console(stderr=False)
err = Console(stderr=True)


class State:
    quiet: bool = False


state = State()


@app.callback()
def _main(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars (also when CI is set).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "",
) -> None:
    from spam_core.logs import configure_logging
    from spam_core.settings import get_settings

    settings = get_settings()
    configure_logging(log_level or settings.log_level, settings.log_format)
    state.quiet = quiet or bool(os.environ.get("CI"))


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


CorpusOpt = Annotated[
    str | None,
    typer.Option(
        "--corpus",
        "-c",
        help="Directory of archives, archive, message tree, maildir, mbox or "
        "https:// base URL. Default: $SPAM_CORPUS, else ../shared/data/spamassassin if present, "
        "else the public SpamAssassin corpus.",
    ),
]


FeastRepoOpt = Annotated[
    Path | None,
    typer.Option(
        help="Feast repository of the sender reputation (default $SPAM_FEAST_REPO or "
        "$SPAM_HOME/feast); without one the reputation features take their defaults."
    ),
]


def reputation_source(repo: Path | None):
    """The online store of ``repo`` (or the configured one); defaults when there is none."""
    from spam_core.features import NoHistory
    from spam_core.reputation.repo import FEATURE_STORE_YAML
    from spam_core.settings import get_settings

    path = repo or get_settings().resolved_feast_repo
    if not (path / FEATURE_STORE_YAML).is_file():
        if repo is not None:
            raise fail(f"{path}: no {FEATURE_STORE_YAML} (not a Feast feature repository)")
        err.print(
            f"[yellow]no Feast repository at {path}: the reputation features take their "
            "defaults (train once, or pass --feast-repo)[/]"
        )
        return NoHistory()
    from spam_core.reputation.online import OnlineReputation

    return OnlineReputation.from_repo(path)
