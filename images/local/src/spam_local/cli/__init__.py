"""``spam-platform up / down / status / demo``: the local platform's commands.

They join the trainer's ``spam-platform`` CLI through the ``spam_platform.commands`` entry point
(see ``images/local/pyproject.toml``) and share its options, consoles and error exit
(``spam_trainer.cli.common``). ``up`` has a module of its own; ``manage`` holds the rest.
"""

from __future__ import annotations

import typer

app = typer.Typer()

# registering the commands: the import order is the order of `--help`
from spam_local.cli import up, manage  # noqa: E402, F401  # isort: skip
