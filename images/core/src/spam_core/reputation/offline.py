"""Training side: write the history, apply the repository, retrieve point-in-time, materialize."""

from __future__ import annotations

import contextlib
import io
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import structlog

from spam_core.features.reputation import N_STATS
from spam_core.reputation.repo import COUNT_FIELDS, HISTORY_FILES, VIEWS, definitions, is_url

log = structlog.get_logger("spam_core.reputation")

if TYPE_CHECKING:
    from feast import FeatureStore

_PAIR = "_pair"
"""Entity-frame column numbering the distinct (key, time) pairs of one retrieval."""


def apply_history(
    store: FeatureStore, history: dict[str, pd.DataFrame], history_dir: Path | str
) -> None:
    """Write the history tables as Parquet and register the repository's objects.

    ``history_dir``: a local directory, or a URL fsspec writes and Feast's file offline store
    reads (``abfs://<container>/<prefix>`` in the cluster: the registry's sources must outlive
    the pod that applied them, since the scheduled materialization reads them later; adlfs
    takes the account from ``AZURE_STORAGE_ACCOUNT_NAME`` and the workload identity, or
    ``AZURE_STORAGE_CONNECTION_STRING``).
    """
    if is_url(history_dir):
        location = str(history_dir).rstrip("/")
        for view, table in history.items():
            table.to_parquet(f"{location}/{HISTORY_FILES[view]}", index=False)
        store.apply(definitions(location))
        return
    history_dir = Path(history_dir)
    history_dir.mkdir(parents=True, exist_ok=True)
    for view, table in history.items():
        table.to_parquet(history_dir / HISTORY_FILES[view], index=False)
    store.apply(definitions(history_dir.resolve()))


def historical_stats(store: FeatureStore, entities: pd.DataFrame) -> np.ndarray:
    """Point-in-time statistics, (len(entities), N_STATS), in the order of ``entities``.

    One retrieval per feature view, over that view's distinct (key, time) pairs, mapped back
    to the e-mails by pair. Not one joint retrieval re-aligned by ``email_id``: Feast's file
    (dask) offline store drops an entity row outright when one view has history for its key
    only *after* its time (every e-mail whose sender is new at that time), losing the other
    view's values with it, and it keeps one row per (join keys, time), so two e-mails of the
    same sender sent in the same second came back as one. Empty keys are not looked up;
    they, unknown keys and keys with only later history get zero counts.
    """
    if entities["email_id"].duplicated().any():
        raise ValueError("the entity frame repeats an email_id")
    out = np.zeros((len(entities), N_STATS), dtype=np.float64)
    for j, (view, key) in enumerate(VIEWS.items()):
        out[:, 2 * j : 2 * j + 2] = _view_stats(store, view, key, entities)
    return out


def _view_stats(store: FeatureStore, view: str, key: str, entities: pd.DataFrame) -> np.ndarray:
    """(len(entities), 2) counts of one feature view, point-in-time."""
    out = np.zeros((len(entities), len(COUNT_FIELDS)), dtype=np.float64)
    pair_of: dict[tuple[str, pd.Timestamp], int] = {}
    rows = []  # per entity row: index of its (key, time) pair, -1 for an empty key
    for value, at in zip(entities[key].tolist(), entities["event_timestamp"].tolist(), strict=True):
        rows.append(pair_of.setdefault((value, at), len(pair_of)) if value else -1)
    if not pair_of:
        return out
    pairs = pd.DataFrame(
        {
            key: [k for k, _ in pair_of],
            "event_timestamp": pd.Series(
                [t for _, t in pair_of], dtype=entities["event_timestamp"].dtype
            ),
            _PAIR: np.arange(len(pair_of)),
        }
    )
    job = store.get_historical_features(
        entity_df=pairs,
        features=[f"{view}:{field}" for field in COUNT_FIELDS],
        full_feature_names=True,
    )
    got = job.to_df()
    named = [f"{view}__{field}" for field in COUNT_FIELDS]
    if not {*named, _PAIR} <= set(got.columns):
        raise RuntimeError(f"the retrieval returned {list(got.columns)}, expected {named}")
    if got[_PAIR].duplicated().any():
        raise RuntimeError(f"the retrieval of {view} returned a (key, time) pair twice")
    values = got.set_index(_PAIR)[named].reindex(range(len(pair_of))).fillna(0)
    index = np.asarray(rows)
    known = index >= 0
    out[known] = values.to_numpy(dtype=np.float64)[index[known]]
    return out


def materialize(store: FeatureStore, history: dict[str, pd.DataFrame]) -> None:
    """Load each entity's latest totals into the online store."""
    tables = [t["event_timestamp"] for t in history.values() if len(t)]
    if not tables:  # no e-mail with a sender: nothing to load (pd.concat([]) would raise)
        return
    stamps = pd.concat(tables)
    start = stamps.min().to_pydatetime() - timedelta(days=1)
    end = stamps.max().to_pydatetime() + timedelta(days=1)
    with quiet():
        store.materialize(start_date=start, end_date=end, feature_views=list(VIEWS))


@contextlib.contextmanager
def quiet():
    """Feast prints a banner and draws progress bars on the terminal while it materializes;
    our callers report progress themselves (and a service's logs are JSON): keep that
    output, log it at debug."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        yield
    log.debug("feast materialize", output=out.getvalue()[-2000:])
