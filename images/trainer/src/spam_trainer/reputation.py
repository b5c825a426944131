"""Training stage 0: sender / sender-domain reputation from the Feast feature store.

1. History: the *train* split's labeled e-mails -> running totals per sender address and per
   sender domain (``spam_core.reputation.history``: stamped one second after the e-mails they
   count, so no e-mail sees its own label).
2. Apply the repository (entities + feature views over that history) to the store.
3. Point-in-time retrieval for every e-mail of every split at its own send time
   (``get_historical_features``): train e-mails see the train e-mails sent before them,
   validation / test e-mails the train history up to their time. Saved as
   ``reputation/stats.parquet`` (email_id, split, the four counts): what the later stages
   build their matrices from. Next to them, ``serving_<count>``: the same e-mail's counts at
   the end of the history — what serving reads from the online store for a new e-mail from
   that sender (the final totals). The drift baseline's reputation columns come from those
   (validation e-mails, :func:`serving_reputation`): a point-in-time reference (a sender's
   first e-mail sees no history) made every known sender look like drift.
4. Materialize the latest totals into the online store, where the transformer and batch
   scoring read them (skipped with ``online=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spam_core.features.reputation import STAT_COLUMNS, StatsByEmailId, reputation_keys
from spam_core.ingest import read_records

STATS_FILE = Path("reputation") / "stats.parquet"
MARKER_FILE = "materialized.json"
"""Written into the Feast repository after a materialization: which dataset's history the
online store holds (the store itself may be Redis, where no file says so)."""
HISTORY_DIR = Path("reputation") / "history"
SPLITS = ("train", "validation", "test")
SERVING_PREFIX = "serving_"
"""Stats columns holding an e-mail's counts at the end of the history (as serving sees them)."""


@dataclass
class ReputationSummary:
    feast_repo: Path
    senders: int
    domains: int
    history_rows: int
    known_sender_fraction: dict[str, float]
    """Per split: share of e-mails whose sender had earlier train history."""
    materialized: bool
    seconds: float


def reputation_stage(
    dataset_dir: Path,
    work_dir: Path,
    feast_repo: Path,
    *,
    online: bool = True,
    history_dir: str | None = None,
) -> ReputationSummary:
    """History from the train split -> Feast -> point-in-time stats for every split.

    ``history_dir``: where the offline history goes (the sources the registry names); default
    ``<work_dir>/reputation/history``. In the cluster a durable URL
    (``abfs://<datasets>/feast/history``): the scheduled materialization reads it later.
    """
    import time

    from spam_core.reputation.history import build_history, entity_frame
    from spam_core.reputation.offline import apply_history, historical_stats, materialize
    from spam_core.reputation.repo import ensure_repo, open_store
    from spam_trainer.feedback_data import RECENT_SPLIT, feedback_rows

    started = time.perf_counter()
    reported = feedback_rows(dataset_dir)  # feedback rows of an assembled dataset: report times
    ids, splits, senders, domains, dates, spam = [], [], [], [], [], []
    for split in (*SPLITS, RECENT_SPLIT) if reported else SPLITS:
        records, labels = read_records(dataset_dir, split=split)  # type: ignore[arg-type]
        for record, label in zip(records, labels, strict=True):
            sender, domain = reputation_keys(record)
            ids.append(record.email_id)
            splits.append(split)
            senders.append(sender)
            domains.append(domain)
            dates.append(record.date)
            spam.append(label == "spam")
    if not ids:
        raise ValueError(f"{dataset_dir}: the dataset is empty")
    times = _event_times(ids, dates, reported)
    # the history: the corpus train split (feedback labels reach the online store through the
    # gateway and `spam-gateway materialize`, see spam_trainer.feedback_data)
    train = np.array([s == "train" and i not in reported for s, i in zip(splits, ids, strict=True)])
    history = build_history(
        [s for s, t in zip(senders, train, strict=True) if t],
        [d for d, t in zip(domains, train, strict=True) if t],
        times[train].reset_index(drop=True),
        [y for y, t in zip(spam, train, strict=True) if t],
    )
    store = open_store(ensure_repo(feast_repo))
    apply_history(store, history, history_dir or work_dir / HISTORY_DIR)
    stats = historical_stats(store, entity_frame(ids, senders, domains, times))
    frame = pd.DataFrame(stats, columns=list(STAT_COLUMNS))
    end = times.max() + pd.Timedelta(days=1)  # after every history row (stamped +1 s)
    at_end = historical_stats(
        store, entity_frame(ids, senders, domains, pd.Series([end] * len(ids)))
    )
    for j, column in enumerate(STAT_COLUMNS):
        frame[SERVING_PREFIX + column] = at_end[:, j]
    frame.insert(0, "split", splits)
    frame.insert(0, "email_id", ids)
    (work_dir / STATS_FILE).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(work_dir / STATS_FILE, index=False)
    if online:
        materialize(store, history)
        write_marker(feast_repo, dataset_dir, sum(len(t) for t in history.values()))
    known = {
        split: float((frame.loc[frame["split"] == split, "sender_messages"] > 0).mean())
        for split in SPLITS
    }
    return ReputationSummary(
        feast_repo=feast_repo,
        senders=int(history["sender_reputation"].iloc[:, 0].nunique()),
        domains=int(history["sender_domain_reputation"].iloc[:, 0].nunique()),
        history_rows=sum(len(t) for t in history.values()),
        known_sender_fraction=known,
        materialized=online,
        seconds=round(time.perf_counter() - started, 2),
    )


def _event_times(ids: list[str], dates: list, reported: dict) -> pd.Series:
    """Each e-mail's time in the history: corpus e-mails as ``event_times`` places them (among
    the corpus alone, as without feedback); a feedback e-mail at its send time, else its report
    time (when it was scored, never after)."""
    from spam_core.reputation.history import event_times

    corpus = [i for i, e in enumerate(ids) if e not in reported]
    times = pd.Series(pd.NaT, index=range(len(ids)), dtype="datetime64[ns, UTC]")
    times.iloc[corpus] = event_times([dates[i] for i in corpus]).to_numpy()
    others = [i for i, e in enumerate(ids) if e in reported]
    if others:
        times.iloc[others] = pd.to_datetime(
            [dates[i] if dates[i] is not None else reported[ids[i]] for i in others], utc=True
        ).to_numpy()
    return times


REDIS_CONNECTION_FILE = "redis-connection-string"
"""Next to the chart's feature_store.yaml (spam-common.feast.configMap): the Redis connection
string with the password as ``$(SPAM_REDIS_PASSWORD)``."""
REDIS_PASSWORD_ENV = "SPAM_REDIS_PASSWORD"
REDIS_CONNECTION_ENV = "SPAM_REDIS_CONNECTION_STRING"


def prepare_repo(feast_repo: Path, scratch: Path) -> Path:
    """A Feast repository the reputation stage can use from a mounted one (the chart's
    ConfigMap in a pipeline pod: read-only, the Redis password in ``$SPAM_REDIS_PASSWORD``).

    ``feature_store.yaml`` is copied into ``scratch`` (the stage writes its marker next to
    it); its registry and online store must be absolute locations, as the chart's and
    :func:`spam_core.reputation.repo.write_local_repo`'s are. When the repository carries the
    chart's ``redis-connection-string`` and ``$SPAM_REDIS_CONNECTION_STRING`` is not set, it
    is set from that template and the password (what Kubernetes does for the chart's pods).
    """
    import os
    import shutil

    from spam_core.reputation.repo import FEATURE_STORE_YAML

    config = feast_repo / FEATURE_STORE_YAML
    if not config.is_file():
        raise FileNotFoundError(
            f"{feast_repo}: no {FEATURE_STORE_YAML} there (mount the Feast repository into "
            "the pod, or pass an empty string for a private one)"
        )
    template = feast_repo / REDIS_CONNECTION_FILE
    if template.is_file() and not os.environ.get(REDIS_CONNECTION_ENV):
        password = os.environ.get(REDIS_PASSWORD_ENV)
        if not password:
            raise ValueError(
                f"{template}: the Redis connection needs ${REDIS_PASSWORD_ENV} (the chart's "
                "global.redis.existingSecret as an environment variable)"
            )
        os.environ[REDIS_CONNECTION_ENV] = (
            template.read_text().strip().replace(f"$({REDIS_PASSWORD_ENV})", password)
        )
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, scratch / FEATURE_STORE_YAML)
    return scratch


def write_marker(feast_repo: Path, dataset_dir: Path, rows: int) -> None:
    import json
    from datetime import UTC, datetime

    from spam_core.ingest import load_manifest
    from spam_trainer.feedback_data import corpus_fingerprint

    doc = {
        "dataset": str(dataset_dir),
        # the history's own dataset: an assembled dataset's corpus (feedback is not in it)
        "dataset_fingerprint": corpus_fingerprint(dataset_dir)
        or load_manifest(dataset_dir).fingerprint,
        "history_rows": rows,
        "materialized_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (feast_repo / MARKER_FILE).write_text(json.dumps(doc, indent=1) + "\n")


def materialized_from(feast_repo: Path) -> str | None:
    """The dataset fingerprint whose history the repository's online store holds, if known."""
    import json

    try:
        return json.loads((feast_repo / MARKER_FILE).read_text()).get("dataset_fingerprint")
    except (OSError, ValueError):
        return None


def load_reputation(path: Path) -> StatsByEmailId:
    """The point-in-time statistics the reputation stage saved (``path``: its stats file, or
    the working directory holding ``reputation/stats.parquet``)."""
    if path.is_dir():
        path = path / STATS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: run the reputation stage first")
    frame = pd.read_parquet(path)
    return StatsByEmailId(frame["email_id"].tolist(), frame[list(STAT_COLUMNS)].to_numpy())


def serving_reputation(path: Path, email_ids: list[str]) -> np.ndarray:
    """(len(email_ids), N_REPUTATION) reputation features of those e-mails as serving sees
    them: their sender's and domain's counts at the end of the history (the online store's
    final totals), not at their own send time. For e-mails outside the history (validation,
    test) that is what serving gives a new e-mail from the same sender. ``path``: the stats
    file or its directory."""
    from spam_core.features.reputation import reputation_features

    if path.is_dir():
        path = path / STATS_FILE
    columns = [SERVING_PREFIX + c for c in STAT_COLUMNS]
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no end-of-history counts {missing}; rerun the reputation stage")
    by_id = frame.drop_duplicates("email_id").set_index("email_id")
    unknown = [i for i in email_ids if i not in by_id.index]
    if unknown:
        raise KeyError(f"{path}: no reputation for {len(unknown)} e-mail(s), e.g. {unknown[0]!r}")
    return reputation_features(by_id.loc[email_ids, columns].to_numpy(dtype=np.float64))
