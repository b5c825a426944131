"""``spam-platform up / down / status / demo``: the local platform's commands.

They join the trainer's ``spam-platform`` CLI through the ``spam_platform.commands`` entry point
(see ``images/local/pyproject.toml``) and share its options, consoles and error exit
(``spam_trainer.cli.common``). ``up`` has a module of its own; ``manage`` holds the rest.
"""

from __future__ import annotations

import typer

app = typer.Typer()


def local_settings():
    """The local platform's settings, or a one-line error naming the bad variable."""
    from pydantic import ValidationError

    from spam_local.config import get_local_settings
    from spam_trainer.cli.common import fail

    try:
        return get_local_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SPAM_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise fail(f"{name}: {first['msg']}") from None


# registering the commands: the import order is the order of `--help`
from spam_local.cli import up, manage  # noqa: E402, F401  # isort: skip
