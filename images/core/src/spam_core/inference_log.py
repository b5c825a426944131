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
follow, sorted), so drift jobs read them by the same names as the drift baseline. A new
column: its name in :data:`STRING_COLUMNS` or :data:`FLOAT_COLUMNS` (both paths below read
:data:`SCALAR_COLUMNS`).

Records become a table column by column (:class:`Columns`): the gateway's logger appends each
record as it is logged (:class:`LogBuffer`, one :class:`Columns` per partition), so a flush is
a few C-level conversions rather than a pass over every record's dict while the writer thread
holds the GIL the event loop needs (``python -m tests.benchmarks logflush``). Batch jobs take
the same path through :func:`to_table`.
"""

from __future__ import annotations

import struct
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from numbers import Real
from operator import itemgetter
from typing import Any

import numpy as np
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
SCALAR_COLUMNS: dict[str, pa.DataType] = {
    **dict.fromkeys(STRING_COLUMNS, pa.string()),
    **dict.fromkeys(FLOAT_COLUMNS, pa.float64()),
}
"""The columns between ``timestamp`` and the features, in file order, with their types."""
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
COMPRESSION = "zstd"

Record = dict[str, Any]
"""``timestamp`` (epoch seconds), ``environment``, the string/float columns above and
``features`` (name → float)."""


def record(
    *,
    timestamp: float,
    environment: str,
    correlation_id: str,
    route: str,
    model_name: str,
    model_version: str,
    email_id: str,
    spam_probability: float,
    prediction: str,
    confidence: str,
    threshold: float | None,
    latency_ms: float | None,
    features: dict[str, float | None] | None,
) -> Record:
    """One answered prediction as a log record: what every writer (the gateway's scoring,
    the batch job) fills, each column by name."""
    return {
        "timestamp": timestamp,
        "environment": environment,
        "correlation_id": correlation_id,
        "route": route,
        "model_name": model_name,
        "model_version": model_version,
        "email_id": email_id,
        "spam_probability": spam_probability,
        "prediction": prediction,
        "confidence": confidence,
        "threshold": threshold,
        "latency_ms": latency_ms,
        "features": features,
    }


def hour_partition(timestamp: float) -> str:
    """``date=YYYY-MM-DD/hour=HH`` (UTC) of an epoch time: every log's partition prefix."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}"


def group_by_hour(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records by :func:`hour_partition` of their ``timestamp`` (the feedback and shadow logs)."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        groups[hour_partition(record["timestamp"])].append(record)
    return groups


def timestamp_column(records: Sequence[Record]) -> pa.Array:
    """The ``timestamp`` column (UTC, µs) of records holding epoch seconds."""
    return pa.array(
        [round(r["timestamp"] * 1_000_000) for r in records], pa.timestamp("us", tz="UTC")
    )


def partition_of(record: Record) -> str:
    return f"{hour_partition(record['timestamp'])}/environment={record['environment']}"


def _partition_key(record: Record) -> tuple[int, str]:
    """What the partition path depends on: the hour (since the epoch) and the environment."""
    return int(record["timestamp"] // 3600), record["environment"]


def _partition_path(key: tuple[int, str]) -> str:
    return partition_of({"timestamp": key[0] * 3600, "environment": key[1]})


def group_by_partition(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records by partition path (:func:`partition_of`). The path depends only on the hour
    and the environment, so it is formatted once per (hour, environment), not per record."""
    groups: dict[str, list[Record]] = defaultdict(list)
    paths: dict[tuple[int, str], str] = {}
    for record in records:
        key = _partition_key(record)
        path = paths.get(key)
        if path is None:
            path = paths[key] = _partition_path(key)
        groups[path].append(record)
    return groups


_N_NAMED = len(NAMED_FEATURES)
_KNOWN = frozenset(NAMED_FEATURES)
_NAMED_VALUES = itemgetter(*NAMED_FEATURES)
_PACK_NAMED = struct.Struct(f"={_N_NAMED}f").pack  # float32, as Arrow rounds them
_PLACEHOLDER = bytes(_PACK_NAMED(*(0.0,) * _N_NAMED))
_SCALAR_VALUES = itemgetter(*SCALAR_COLUMNS)


def _irregular_features(features: Any) -> dict[str, float | None] | None:
    """A ``features`` value off the common shape (names missing or added, null values): the
    mapping checked now, so a bad value fails the call that logs it, not a later flush."""
    if not features:
        return None
    if not isinstance(features, dict):
        raise TypeError(f"features must be a mapping of name to number, not {type(features)}")
    out: dict[str, float | None] = {}
    for name, value in features.items():
        if value is not None and not isinstance(value, Real):
            raise TypeError(f"feature {name!r} must be a number or null, not {value!r}")
        out[name] = None if value is None else float(value)
    return out


class Columns:
    """Records of one file, held column by column as they are appended; :meth:`table` makes
    the Arrow table.

    The common record (features: exactly the named features, all numbers; what the
    transformer sends) costs one C-level pick of its scalar values and one of its feature
    values, packed as float32 (about 1 µs on the request path). Any other ``features`` value
    is checked and kept aside for its row, and filled in by :meth:`table` (nulls, names added
    later)."""

    __slots__ = ("_features", "_irregular", "_rows", "_timestamps")

    def __init__(self) -> None:
        self._timestamps = array("d")
        self._rows: list[tuple[Any, ...]] = []
        self._features = bytearray()  # float32, _N_NAMED per row
        self._irregular: dict[int, dict[str, float | None] | None] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, record: Record) -> None:
        """Add one record; raises (and adds nothing) on a missing or non-numeric timestamp
        or a feature value that is not a number."""
        try:
            row = _SCALAR_VALUES(record)
        except KeyError:  # a column left out: null
            row = tuple(map(record.get, SCALAR_COLUMNS))
        features = record.get("features")
        try:
            if len(features) != _N_NAMED:
                raise KeyError
            packed = _PACK_NAMED(*_NAMED_VALUES(features))
        except (KeyError, TypeError, struct.error, OverflowError):
            irregular = _irregular_features(features)  # raises on a bad value
            packed = b""
        self._timestamps.append(record["timestamp"])  # raises unless a number
        if not packed:
            self._irregular[len(self._rows)] = irregular
            packed = _PLACEHOLDER
        self._features += packed
        self._rows.append(row)

    def extend(self, records: Iterable[Record]) -> Columns:
        for record in records:
            self.append(record)
        return self

    def table(self) -> pa.Table:
        n = len(self._rows)
        micros = np.round(np.frombuffer(self._timestamps, np.float64) * 1_000_000)
        columns: dict[str, pa.Array] = {
            "timestamp": pa.array(micros.astype(np.int64), TIMESTAMP_TYPE)
        }
        values = list(zip(*self._rows, strict=True)) or [()] * len(SCALAR_COLUMNS)
        for (name, kind), column in zip(SCALAR_COLUMNS.items(), values, strict=True):
            try:
                columns[name] = pa.array(column, kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise type(exc)(f"column {name!r}: {exc}") from exc
        # one contiguous row per feature (zero-copy into Arrow)
        matrix = np.frombuffer(self._features, np.float32).reshape(n, _N_NAMED).T.copy()
        nulls, added = self._fill_irregular(matrix)
        for j, name in enumerate(NAMED_FEATURES):
            columns[name] = pa.array(matrix[j], mask=None if nulls is None else nulls[j])
        for name, column in added.items():
            columns[name] = pa.array(column, pa.float32())
        return pa.table(columns).replace_schema_metadata({"spam_platform.schema": SCHEMA_VERSION})

    def _fill_irregular(
        self, matrix: np.ndarray
    ) -> tuple[np.ndarray | None, dict[str, list[float | None]]]:
        """Write the kept-aside rows into ``matrix``; their nulls (a mask per named feature)
        and the columns of names beyond the named features (sorted)."""
        if not self._irregular:
            return None, {}
        n = len(self._rows)
        nulls = np.zeros(matrix.shape, dtype=bool)
        names = sorted({k for f in self._irregular.values() if f for k in f if k not in _KNOWN})
        added: dict[str, list[float | None]] = {name: [None] * n for name in names}
        for row, features in self._irregular.items():
            features = features or {}
            for j, name in enumerate(NAMED_FEATURES):
                value = features.get(name)
                if value is None:
                    nulls[j, row] = True
                else:
                    matrix[j, row] = value
            for name in names:
                added[name][row] = features.get(name)
        return nulls, added


class LogBuffer:
    """What the gateway's logger holds between flushes: the records, a :class:`Columns` per
    partition, appended as they are logged."""

    __slots__ = ("_count", "_parts")

    def __init__(self) -> None:
        self._parts: dict[tuple[int, str], Columns] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, records: Iterable[Record]) -> None:
        """Append the records in order; a bad one raises, those before it stay."""
        parts = self._parts
        for record in records:
            key = _partition_key(record)
            columns = parts.get(key)
            if columns is None:
                columns = parts[key] = Columns()
            columns.append(record)
            self._count += 1

    def partitions(self) -> list[tuple[str, int, Callable[[], pa.Table]]]:
        """(partition path, rows, the function that makes its table) per partition."""
        return [(_partition_path(k), len(c), c.table) for k, c in self._parts.items()]


def new_buffer() -> LogBuffer:
    return LogBuffer()


class RecordBuffer:
    """A log buffer that keeps the records as they come and converts them when flushed
    (:func:`group_by_partition`, :func:`to_table` of a schema): for logs with few records,
    such as the feedback log."""

    __slots__ = ("_group", "_records", "_to_table")

    def __init__(
        self,
        group: Callable[[list[Record]], dict[str, list[Record]]],
        to_table: Callable[[Sequence[Record]], pa.Table],
    ) -> None:
        self._group = group
        self._to_table = to_table
        self._records: list[Record] = []

    def __len__(self) -> int:
        return len(self._records)

    def add(self, records: Iterable[Record]) -> None:
        self._records.extend(records)

    def partitions(self) -> list[tuple[str, int, Callable[[], pa.Table]]]:
        return [
            (path, len(rows), partial(self._to_table, rows))
            for path, rows in self._group(self._records).items()
        ]


def to_table(records: Iterable[Record]) -> pa.Table:
    return Columns().extend(records).table()


def encode(table: pa.Table) -> bytes:
    """Parquet (zstd) in memory. The encoding runs without the GIL: into an Arrow buffer, not
    a Python file object, which pyarrow would call back into (with the GIL) for every write.
    Only the string columns are dictionary-encoded: on the float columns a dictionary costs a
    third of the encoding's CPU and makes the file larger."""
    sink = pa.BufferOutputStream()
    strings = [field.name for field in table.schema if pa.types.is_string(field.type)]
    pq.write_table(table, sink, compression=COMPRESSION, use_dictionary=strings)
    return sink.getvalue().to_pybytes()


def to_parquet(records: Iterable[Record]) -> bytes:
    return encode(to_table(records))


def new_file_name() -> str:
    return f"part-{uuid.uuid4().hex}.parquet"


def warm_up() -> None:
    """Encode one synthetic record: pyarrow's first conversion costs ~0.5 s of CPU (and the
    GIL); better at start-up than in the middle of traffic."""
    buffer = new_buffer()
    buffer.add(
        [
            {
                "timestamp": 0.0,
                "environment": "staging",
                **dict.fromkeys(STRING_COLUMNS, ""),
                "features": dict.fromkeys(NAMED_FEATURES, 0.0),
            },
            {"timestamp": 0.0, "environment": "staging", "features": {"x": None}},
        ]
    )
    for _path, _rows, table in buffer.partitions():
        encode(table())
