"""Read the inference log of one environment and window (``spam_core.inference_log`` layout).

Only the partitions the window needs are listed: ``date=D/hour=H/environment=E/`` for every
UTC hour the window touches; rows are then cut to ``start <= timestamp < end``. Temporary
files of a writer (names starting with ``.``) are skipped. Columns missing from older files
(a feature added later) read as nulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import structlog

from spam_drift.errors import DriftInputError
from spam_drift.storage import Location
from spam_drift.window import Window

log = structlog.get_logger("spam_drift.logread")

BASE_COLUMNS: dict[str, pa.DataType] = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "model_name": pa.string(),
    "model_version": pa.string(),
    "prediction": pa.string(),
    "spam_probability": pa.float64(),
}


@dataclass
class WindowData:
    table: pa.Table
    files: list[str]
    partitions: list[str]


def partition_dirs(location: Location, environment: str, window: Window) -> list[str]:
    return [
        location.path(f"date={h:%Y-%m-%d}", f"hour={h:%H}", f"environment={environment}")
        for h in window.hours()
    ]


def list_files(location: Location, environment: str, window: Window) -> tuple[list[str], list[str]]:
    """(Parquet files, partition directories that exist) of the window."""
    if not location.fs.exists(location.root):
        raise DriftInputError(f"no inference logs at {location.url} (the location does not exist)")
    files: list[str] = []
    found: list[str] = []
    for directory in partition_dirs(location, environment, window):
        try:
            entries = location.fs.ls(directory, detail=False)
        except FileNotFoundError:
            continue
        found.append(directory)
        files.extend(
            sorted(
                p
                for p in entries
                if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(".")
            )
        )
    return files, found


def read_window(
    location: Location, environment: str, window: Window, features: Sequence[str]
) -> WindowData:
    files, found = list_files(location, environment, window)
    schema = pa.schema(
        [*(pa.field(n, t) for n, t in BASE_COLUMNS.items())]
        + [pa.field(n, pa.float32()) for n in features]
    )
    if not files:
        return WindowData(schema.empty_table(), [], found)
    start = pa.scalar(window.start, BASE_COLUMNS["timestamp"])
    end = pa.scalar(window.end, BASE_COLUMNS["timestamp"])
    try:
        dataset = pads.dataset(files, schema=schema, format="parquet", filesystem=location.fs)
        table = dataset.to_table(
            filter=(pc.field("timestamp") >= start) & (pc.field("timestamp") < end),
            use_threads=True,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DriftInputError(
            _which_file(location, files, schema) or f"cannot read: {exc}"
        ) from None
    log.debug("drift.read", files=len(files), rows=table.num_rows)
    return WindowData(table, files, found)


def _which_file(location: Location, files: list[str], schema: pa.Schema) -> str | None:
    """The first unreadable file, for the error message (files are read whole: a footer can
    be intact while a column chunk is not)."""
    for path in files:
        try:
            with location.fs.open(path, "rb") as fh:
                table = pq.read_table(fh)
            file_schema = table.schema
        except Exception as exc:  # pyarrow raises several types for broken files
            return f"{location.display(path)}: not a readable Parquet file ({exc})"
        for field in schema:
            if field.name in file_schema.names:
                have = file_schema.field(field.name).type
                if not (
                    have == field.type
                    or (pa.types.is_floating(have) and pa.types.is_floating(field.type))
                ):
                    return (
                        f"{location.display(path)}: column {field.name!r} is {have}, "
                        f"expected {field.type} (not an inference-log file)"
                    )
    return None
