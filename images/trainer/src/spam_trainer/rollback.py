"""Rollback: move a track's alias (``production``) back to an earlier version.

The target is ``--to VERSION`` or, by default, the version that held the alias before the
current one, read from the alias history the registry records on every move
(:func:`spam_trainer.registry.holders`). The target must exist, have passed the quality gates
and be published where the serving components read it (the same rule as promotion). Who and
why are recorded as tags on both versions and as a history entry, so a second rollback goes one
step further back, not forth.

Serving follows the alias: in the cluster ``helm upgrade --reuse-values --set
global.model.tracks.production.version=<target>`` (the rollback workflow), on the local platform
``spam-platform up`` restarts the services on the versions the aliases name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from spam_trainer.publish import PublishError, require_published
from spam_trainer.registry import (
    ALIASES,
    PRODUCTION,
    actor,
    alias_history,
    alias_version,
    holders,
    record_alias_move,
)
from spam_trainer.settings import TrainerSettings


class RollbackError(RuntimeError):
    """Nothing to roll back to, or the target was refused (the message says why)."""


@dataclass
class Rollback:
    alias: str
    target: str
    previous: str | None
    moved: bool
    by: str
    reason: str


def default_target(name: str, alias: str, current: str | None) -> str:
    """The version that held ``alias`` before ``current``, from the recorded history."""
    stack = holders(alias_history(name, alias))
    if current is not None and current in stack:
        earlier = stack[: stack.index(current)]
        if earlier:
            return earlier[-1]
    raise RollbackError(
        f"no earlier {alias!r} version of {name!r} is recorded in the alias history "
        f"(holders so far: {', '.join('v' + v for v in stack) or 'none'}; current: "
        f"{'v' + current if current else 'none'}): pass --to VERSION"
    )


def rollback(
    settings: TrainerSettings,
    *,
    alias: str = PRODUCTION,
    to: str | None = None,
    reason: str,
    by: str | None = None,
    dry_run: bool = False,
) -> Rollback:
    import mlflow
    from mlflow.exceptions import MlflowException

    if alias not in ALIASES:
        raise RollbackError(f"alias must be one of {', '.join(ALIASES)}, not {alias!r}")
    if not reason.strip():
        raise RollbackError("say why (--reason): it is recorded with the rollback")
    name = settings.model_name
    by = by or actor()
    current = alias_version(name, alias)
    target = str(to) if to else default_target(name, alias, current)
    client = mlflow.MlflowClient()
    try:
        tags = client.get_model_version(name, target).tags
    except MlflowException as exc:
        raise RollbackError(f"{name} v{target}: {exc.message}") from None
    if tags.get("gate") != "passed":
        raise RollbackError(
            f"{name} v{target} has not passed the quality gates (gate tag: "
            f"{tags.get('gate')!r}): {alias!r} cannot point at it"
        )
    try:
        require_published(settings.publish_location(), name, target)
    except PublishError as exc:
        raise RollbackError(f"{exc}: {alias!r} cannot point at it") from None
    if target == current:
        return Rollback(alias, target, current, False, by, reason)
    if not dry_run:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        record = json.dumps({"alias": alias, "from": current, "at": now, "by": by, "why": reason})
        client.set_registered_model_alias(name, alias, target)
        record_alias_move(name, alias, target, current, action="rollback", reason=reason, by=by)
        client.set_model_version_tag(name, target, f"{alias}_rollback", record)
        client.set_model_version_tag(name, target, f"{alias}_since", now)
        if current is not None:
            client.set_model_version_tag(
                name,
                current,
                f"{alias}_rolled_back",
                json.dumps({"alias": alias, "to": target, "at": now, "by": by, "why": reason}),
            )
    return Rollback(alias, target, current, not dry_run, by, reason)
