"""Inference-log records → Parquet: columns, partitions, file names.

Shared by the gateway (online predictions) and batch jobs (async batch predictions), and
read by drift jobs.

One row per answered prediction. Files are written under Hive-style partitions
``date=YYYY-MM-DD/hour=HH/environment=<env>/part-<uuid>.parquet`` (UTC). ``environment``
lives only in the path: reading the directory as a Hive-partitioned dataset
(``pyarrow.dataset.dataset(url, partitioning="hive")`` or ``pandas.read_parquet``) adds it
back together with ``date`` and ``hour``; a duplicate in-file column would make those readers
fail to merge the schemas.

Columns: ``timestamp`` (UTC, µs), ``correlation_id``, ``route``, ``model_name``,
``model_version``, ``email_id``, ``spam_probability``, ``prediction``, ``confidence``,
``threshold``, ``latency_ms`` and one float32 column per engineered feature (the names of
``spam_core.features.spec.NAMED_FEATURES``, in that order; names the transformer adds later
follow, sorted), so drift jobs read them by the same names as the drift baseline.
"""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spam_core.features.spec import NAMED_FEATURES

SCHEMA_VERSION = "inference-log-v1"
STRING_COLUMNS = (
    "correlation_id",
    "route",
    "model_name",
    "model_version",
    "email_id",
    "prediction",
    "confidence",
)
FLOAT_COLUMNS = ("spam_probability", "threshold", "latency_ms")

Record = dict[str, Any]
"""``timestamp`` (epoch seconds), ``environment``, the string/float columns above and
``features`` (name → float)."""


def partition_of(record: Record) -> str:
    moment = datetime.fromtimestamp(record["timestamp"], UTC)
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}/environment={record['environment']}"


def group_by_partition(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records by partition path (:func:`partition_of`). The path depends only on the hour
    and the environment, so it is formatted once per (hour, environment), not per record:
    this runs in the writer thread, holding the GIL the request path needs."""
    groups: dict[str, list[Record]] = defaultdict(list)
    paths: dict[tuple[int, str], str] = {}
    for record in records:
        key = (int(record["timestamp"] // 3600), record["environment"])
        path = paths.get(key)
        if path is None:
            path = paths[key] = partition_of(record)
        groups[path].append(record)
    return groups


def feature_columns(records: Sequence[Record]) -> list[str]:
    known = set(NAMED_FEATURES)
    extra: set[str] = set()
    for record in records:
        extra.update(k for k in record.get("features") or () if k not in known)
    return [*NAMED_FEATURES, *sorted(extra)]


def to_table(records: Sequence[Record]) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(
            [round(r["timestamp"] * 1_000_000) for r in records], pa.timestamp("us", tz="UTC")
        )
    }
    for name in STRING_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in records], pa.string())
    for name in FLOAT_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in records], pa.float64())
    features = [r.get("features") or {} for r in records]
    for name in feature_columns(records):
        columns[name] = pa.array([f.get(name) for f in features], pa.float32())
    table = pa.table(columns)
    return table.replace_schema_metadata({"spam_platform.schema": SCHEMA_VERSION})


def to_parquet(records: Sequence[Record]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(to_table(records), sink, compression="zstd")
    return sink.getvalue()


def new_file_name() -> str:
    return f"part-{uuid.uuid4().hex}.parquet"


def warm_up() -> None:
    """Encode one synthetic record: pyarrow's first conversion costs ~0.5 s of CPU (and the
    GIL); better at start-up than in the middle of traffic."""
    to_parquet(
        [
            {
                "timestamp": 0.0,
                "environment": "staging",
                "features": dict.fromkeys(NAMED_FEATURES, 0.0),
            }
        ]
    )
