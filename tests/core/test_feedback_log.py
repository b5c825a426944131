"""``spam_core.feedback.read_log``: the feedback log's rows after a time, reading only the days
from that time on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec

from spam_core import feedback


def write(root: Path, records: list[dict]) -> None:
    for partition, rows in feedback.group_by_partition(records).items():
        folder = root / partition
        folder.mkdir(parents=True, exist_ok=True)
        (folder / feedback.new_file_name()).write_bytes(feedback.to_parquet(rows))


def row(moment: datetime, status: str = "applied") -> dict:
    return {"timestamp": moment.timestamp(), "label": "spam", "status": status}


T = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


def test_rows_after_since_from_the_days_it_touches(tmp_path: Path):
    root = tmp_path / "feedback-logs"
    write(root, [row(T - timedelta(days=3)), row(T - timedelta(minutes=5)), row(T)])
    write(root, [row(T + timedelta(seconds=1), "duplicate"), row(T + timedelta(days=1))])
    # a damaged file in a day before `since` is never opened
    old_day = root / f"date={T - timedelta(days=3):%Y-%m-%d}" / "hour=10"
    (old_day / "part-broken.parquet").write_bytes(b"not parquet")
    fs = fsspec.filesystem("file")
    table = feedback.read_log(fs, str(root), since=T, columns=["timestamp", "status"])
    assert table.column_names == ["timestamp", "status"]
    assert sorted(table["status"].to_pylist()) == ["applied", "duplicate"]  # strictly after T
    assert feedback.read_log(fs, str(root), since=T + timedelta(days=2)).num_rows == 0


def test_no_log_yet_is_an_empty_table(tmp_path: Path):
    fs = fsspec.filesystem("file")
    table = feedback.read_log(fs, str(tmp_path / "none"), columns=["status"])
    assert table.num_rows == 0 and table.column_names == ["status"]
