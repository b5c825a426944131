"""``spam-platform``: the one CLI, a thin layer over the library (the Feast pattern).

Commands only parse options, call library functions and format results. Heavy imports are
deferred into the commands so ``--help`` stays fast. One module per command group:
``ingest``, ``features``, ``train``, ``models`` (``promote``, ``score``), ``retrain``; what they
share is in ``common``. Other installed packages add commands through entry points (``name =
"module:typer_app"``): ``spam_platform.commands`` merges them at the top level (``spam_local``
adds ``up``, ``down``, ``status`` and ``demo``), ``spam_platform.cli`` adds a group named
after the entry point (``spam_drift``: ``drift``).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

# registering the commands: the import order is the order of `--help`
from spam_core.raylocal import workers_without_uv_run

# before Ray is imported (Ray Client reads the switch then): see spam_core.raylocal
workers_without_uv_run()

from spam_trainer.cli import ingest, train, models, retrain, features  # noqa: F401, E402  # isort: skip
from spam_trainer.cli.common import app, err  # noqa: E402

__all__ = ["app", "main"]


def _load_plugins() -> None:
    """Commands of other installed packages. Two entry-point groups:

    - ``spam_platform.commands``: commands that join the top level (``spam_local``: ``up``,
      ``down``, ``status``, ``demo``);
    - ``spam_platform.cli``: a command group named after the entry point (``spam_drift``:
      ``spam-platform drift …``).

    The trainer image has neither."""
    for group, named in (("spam_platform.commands", False), ("spam_platform.cli", True)):
        for ep in entry_points(group=group):
            try:
                app.add_typer(ep.load(), name=ep.name if named else None)
            except Exception as exc:
                err.print(f"[yellow]warning:[/] CLI plugin {ep.name!r} failed to load: {exc}")


def main() -> None:
    _load_plugins()
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
