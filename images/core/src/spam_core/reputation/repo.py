"""The Feast feature repository of the reputation features.

Two entities and two feature views, one per entity, each holding the running counts of
labeled e-mails (``messages``, ``spam``). The views' offline sources are Parquet history
tables written by :func:`spam_core.reputation.history.build_history`; the online store is
SQLite on one machine and Redis in the cluster (the chart's ``feature_store.yaml``).

Definitions are built in code (not discovered by ``feast apply`` from a directory) so the
training step can point the sources at the history it just wrote and apply them with the
store it was given.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spam_core.errors import ArtifactError

if TYPE_CHECKING:
    from feast import FeatureStore

os.environ.setdefault("FEAST_USAGE", "False")

PROJECT = "spam_platform"
ENTITY_KEY_SERIALIZATION_VERSION = 3
FEATURE_STORE_YAML = "feature_store.yaml"

SENDER_KEY = "sender"
DOMAIN_KEY = "sender_domain"
SENDER_VIEW = "sender_reputation"
DOMAIN_VIEW = "sender_domain_reputation"
COUNT_FIELDS = ("messages", "spam")
VIEWS: dict[str, str] = {SENDER_VIEW: SENDER_KEY, DOMAIN_VIEW: DOMAIN_KEY}
"""feature view -> its entity's join key."""
HISTORY_FILES: dict[str, str] = {
    SENDER_VIEW: "sender_history.parquet",
    DOMAIN_VIEW: "sender_domain_history.parquet",
}

# The feedback ledger (``spam_core.reputation.feedback``): online-only state of user reports,
# kept in the same online store so every gateway replica shares it. Their offline sources are
# never written or read (the feedback log is the offline record); training does not
# materialize them.
REPORT_KEY = "feedback_report_key"
REPORT_VIEW = "feedback_report"
"""A reporter's applied label of one e-mail (``label``: 1 spam, 0 ham): de-duplication."""
BOUND_KEY = "feedback_bound_key"
BOUND_VIEW = "feedback_daily_reports"
"""Reports of one reporter against one sender (or domain) on one UTC day: the poisoning
bound."""
LEDGER_VIEWS: dict[str, tuple[str, str]] = {
    REPORT_VIEW: (REPORT_KEY, "label"),
    BOUND_VIEW: (BOUND_KEY, "reports"),
}
"""ledger view -> (its entity's join key, its one Int64 field)."""


def is_url(location: str | Path) -> bool:
    """Whether a history location is a URL (``abfs://…``, any ``scheme://`` but ``file://``)
    rather than a local path."""
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def _source_path(history_dir: str | Path, name: str) -> str:
    """``<history_dir>/<name>``: a local path, or a URL kept as a URL."""
    if is_url(history_dir):
        return f"{str(history_dir).rstrip('/')}/{name}"
    return str(Path(history_dir) / name)


def definitions(history_dir: str | Path) -> list[Any]:
    """Entities and feature views, their sources in ``history_dir`` (a directory or a URL).

    TTL 0 (never expires): each history row is the running total up to its time, so the
    latest row before a timestamp is the whole history before it, however old.
    """
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Int64

    objects: list[Any] = []
    for view, key in VIEWS.items():
        entity = Entity(
            name=key,
            join_keys=[key],
            value_type=ValueType.STRING,
            description=f"lower-cased {key.replace('_', ' ')} of an e-mail",
        )
        source = FileSource(
            name=f"{view}_history",
            path=_source_path(history_dir, HISTORY_FILES[view]),
            timestamp_field="event_timestamp",
        )
        objects += [
            entity,
            FeatureView(
                name=view,
                entities=[entity],
                ttl=timedelta(0),
                schema=[Field(name=f, dtype=Int64) for f in COUNT_FIELDS],
                source=source,
                online=True,
                description=f"labeled e-mails seen from this {key.replace('_', ' ')} "
                "(running totals)",
            ),
        ]
    return objects + ledger_definitions(history_dir)


def ledger_definitions(history_dir: str | Path) -> list[Any]:
    """The feedback ledger's entities and feature views (online only)."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Int64

    objects: list[Any] = []
    for view, (key, field) in LEDGER_VIEWS.items():
        entity = Entity(
            name=key,
            join_keys=[key],
            value_type=ValueType.STRING,
            description="feedback ledger key (spam_core.reputation.feedback)",
        )
        objects += [
            entity,
            FeatureView(
                name=view,
                entities=[entity],
                ttl=timedelta(0),
                schema=[Field(name=field, dtype=Int64)],
                source=FileSource(
                    name=f"{view}_ledger",
                    path=_source_path(history_dir, f"{view}.parquet"),
                    timestamp_field="event_timestamp",
                ),
                online=True,
                description="feedback ledger (online only; the feedback log is the history)",
            ),
        ]
    return objects


def ensure_ledger(store: FeatureStore, repo_path: str | Path) -> bool:
    """Register the feedback ledger's views when the registry lacks them (a repository a
    training run of an earlier version applied); whether it had to."""
    from feast.errors import FeatureViewNotFoundException

    try:
        for view in LEDGER_VIEWS:
            store.get_feature_view(view)
    except FeatureViewNotFoundException:
        store.apply(ledger_definitions(Path(repo_path) / "ledger"))
        return True
    return False


def write_local_repo(repo_dir: Path, project: str = PROJECT, *, redis: str | None = None) -> Path:
    """A one-machine repository: file registry and offline store; the online store is SQLite,
    or Redis when ``redis`` gives a Feast connection string (``host:port[,password=…]``)."""
    repo_dir.mkdir(parents=True, exist_ok=True)
    if redis:
        online = f'  type: redis\n  connection_string: "{redis}"\n'
    else:
        online = f"  type: sqlite\n  path: {(repo_dir / 'online_store.db').resolve()}\n"
    config = repo_dir / FEATURE_STORE_YAML
    config.write_text(
        f"project: {project}\n"
        "provider: local\n"
        f"registry: {(repo_dir / 'registry.db').resolve()}\n"
        "online_store:\n"
        f"{online}"
        "offline_store:\n"
        "  type: file\n"
        f"entity_key_serialization_version: {ENTITY_KEY_SERIALIZATION_VERSION}\n"
    )
    return config


def ensure_repo(repo_dir: Path) -> Path:
    """``repo_dir`` as it is when it has a ``feature_store.yaml``, else a new local one."""
    if not (repo_dir / FEATURE_STORE_YAML).is_file():
        write_local_repo(repo_dir)
    return repo_dir


def open_store(repo_path: str | Path) -> FeatureStore:
    """The store described by ``<repo_path>/feature_store.yaml`` (``${VAR}`` expanded)."""
    path = Path(repo_path)
    if not (path / FEATURE_STORE_YAML).is_file():
        raise ArtifactError(f"{path}: no {FEATURE_STORE_YAML} (not a Feast feature repository)")
    from feast import FeatureStore

    _read_remote_sources()
    try:
        return FeatureStore(repo_path=str(path))
    except Exception as exc:  # Feast raises pydantic / its own errors for a bad config
        raise ArtifactError(f"{path / FEATURE_STORE_YAML}: {exc}") from exc


def _read_remote_sources() -> None:
    """Let Feast's file (dask) offline store read sources at a URL (``abfs://…``).

    Feast 0.49's ``dask._read_datasource`` prefixes every source path that is not an absolute
    local path with the repository path, so ``abfs://datasets/feast/history/x.parquet`` is read
    as ``<repo>/abfs:/datasets/…``. Sources at a URL (the cluster's history in Blob, see
    :func:`is_url`) are read as they are (fsspec: adlfs takes the account and credentials from
    the environment); local paths still go through Feast's own function. Installed once.
    """
    from feast.infra.offline_stores import dask as dask_store

    original = dask_store._read_datasource
    if getattr(original, "spam_remote_sources", False):
        return

    def read(data_source, repo_path):
        if is_url(data_source.path):
            import dask.dataframe as dd

            return dd.read_parquet(data_source.path)
        return original(data_source, repo_path)

    read.spam_remote_sources = True  # type: ignore[attr-defined]
    dask_store._read_datasource = read
