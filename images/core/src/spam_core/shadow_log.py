"""Shadow log: production e-mails scored by the staging model too, both scores in one row.

Written by the gateway's shadow scoring (``spam_gateway.app.shadow``): a sampled share of the
e-mails answered on the ``production`` track is sent to the ``staging`` model after the answer,
off the request path, and each e-mail the staging model scored becomes one row here. Read by
``spam-platform promote`` (``spam_trainer.shadow``): agreement of the two models on live traffic,
and their accuracy on the rows a user labelled (the feedback log, joined by ``email_key``).

A log of its own beside the inference log, not extra columns of it: the inference-log row is
written when the production answer is, whatever becomes of the staging call, and the drift job
reads that log unchanged. Files under Hive-style partitions ``date=YYYY-MM-DD/hour=HH/
part-<uuid>.parquet`` (UTC, the production answer's time), written by the inference log's
writer (buffered, spooled to local disk when the store is down, retried).

Columns: ``timestamp`` (UTC, µs: when the production answer was produced), ``correlation_id``,
``route`` (``predict`` or ``batch-sync``), ``email_id``, ``email_key`` (the e-mail's identity,
``spam_core.feedback.email_key``: what feedback rows are joined on), ``model_name``; per model,
``production_*`` and ``shadow_*``: ``model_version``, ``spam_probability``, ``prediction``,
``threshold``; and ``shadow_latency_ms`` (the staging call, from the answer to its result).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spam_core.inference_log import (  # noqa: F401  (new_file_name: the logger reads it here)
    RecordBuffer,
    encode,
    group_by_hour,
    hour_partition,
    new_file_name,
    timestamp_column,
)

if TYPE_CHECKING:
    import fsspec

SCHEMA_VERSION = "shadow-log-v1"
SIDES = ("production", "shadow")
"""The two models of a row: the one that answered and the staging model in its shadow."""
STRING_COLUMNS = (
    "correlation_id",
    "route",
    "email_id",
    "email_key",
    "model_name",
    "production_model_version",
    "production_prediction",
    "shadow_model_version",
    "shadow_prediction",
)
FLOAT_COLUMNS = (
    "production_spam_probability",
    "production_threshold",
    "shadow_spam_probability",
    "shadow_threshold",
    "shadow_latency_ms",
)

Record = dict[str, Any]
"""``timestamp`` (epoch seconds) and the columns above."""


def partition_of(record: Record) -> str:
    return hour_partition(record["timestamp"])


group_by_partition = group_by_hour


def to_table(records: Sequence[Record]) -> pa.Table:
    columns: dict[str, pa.Array] = {"timestamp": timestamp_column(records)}
    for name in STRING_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in records], pa.string())
    for name in FLOAT_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in records], pa.float64())
    return pa.table(columns).replace_schema_metadata({"spam_platform.schema": SCHEMA_VERSION})


def to_parquet(records: Sequence[Record]) -> bytes:
    return encode(to_table(records))


def new_buffer() -> RecordBuffer:
    """The logger's buffer: records kept as they come (a sampled share of production traffic,
    at most a few hundred a second)."""
    return RecordBuffer(group_by_partition, to_table)


def warm_up() -> None:
    """Encode one synthetic record (pyarrow's first conversion is slow)."""
    to_parquet([{"timestamp": 0.0, "production_prediction": "ham", "shadow_spam_probability": 0}])


def read_log(
    fs: fsspec.AbstractFileSystem,
    root: str,
    *,
    since: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The shadow log's rows, those after ``since`` (UTC) when given; an empty table when there
    is no log yet (``spam_core.storage.read_dated``)."""
    from spam_core.storage import read_dated

    return read_dated(fs, root, to_table([]), since=since, columns=columns)
