"""The inference logger on a local directory: partitions, flush by count / time / close,
spool when the store fails and retry until nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from spam_core.features.spec import NAMED_FEATURES
from spam_core.inference_log import SCHEMA_VERSION
from spam_gateway.app.inference_log import InferenceLogger, LogStore
from tests.utils.gateway import local_rows, wait_until

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def record(i: int, environment: str = "staging", ts: float = T0) -> dict:
    return {
        "timestamp": ts,
        "correlation_id": f"c{i}",
        "route": "predict",
        "environment": environment,
        "model_name": "spam-detector",
        "model_version": "2" if environment == "staging" else "1",
        "email_id": f"e{i}",
        "spam_probability": i / 1000,
        "prediction": "ham",
        "confidence": "high",
        "threshold": 0.5,
        "latency_ms": 1.5,
        "features": {name: float(i) for name in NAMED_FEATURES},
    }


def make(tmp_path: Path, url: str | None = None, **kwargs) -> InferenceLogger:
    options = {"batch_size": 1000, "flush_interval_s": 60.0, "retry_interval_s": 0.1, **kwargs}
    logger = InferenceLogger(
        LogStore(url or str(tmp_path / "store")), tmp_path / "spool", **options
    )
    logger.start()
    return logger


def test_partitions_rows_and_columns(tmp_path: Path) -> None:
    logger = make(tmp_path)
    logger.log_many(record(i, env, T0 + hour * 3600) for i in range(10)
                    for env in ("staging", "production") for hour in (0, 1))  # fmt: skip
    logger.log(record(99, "production", T0 + 3600))
    logger.close()
    rows = local_rows(tmp_path / "store")
    by_partition = {path.rsplit("/", 1)[0]: n for path, n in rows.items()}
    assert by_partition == {
        "date=2023-11-14/hour=22/environment=staging": 10,
        "date=2023-11-14/hour=22/environment=production": 10,
        "date=2023-11-14/hour=23/environment=staging": 10,
        "date=2023-11-14/hour=23/environment=production": 11,
    }
    assert all(path.split("/")[-1].startswith("part-") for path in rows)
    table = ds.dataset(tmp_path / "store", partitioning="hive").to_table()
    assert table.num_rows == 41
    names = table.schema.names
    assert names[:11] == [
        "timestamp", "correlation_id", "route", "model_name", "model_version", "email_id",
        "prediction", "confidence", "spam_probability", "threshold", "latency_ms",
    ]  # fmt: skip
    assert names[11 : 11 + len(NAMED_FEATURES)] == list(NAMED_FEATURES)
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("body_length_log").type == pa.float32()
    assert table.schema.metadata[b"spam_platform.schema"] == SCHEMA_VERSION.encode()
    assert set(table.column("environment").to_pylist()) == {"staging", "production"}
    assert sorted(table.column("email_id").to_pylist()) == sorted(
        [f"e{i}" for i in range(10)] * 4 + ["e99"]
    )
    stats = logger.stats()
    assert stats["records_logged"] == stats["records_written"] == 41
    assert stats["records_spooled"] == stats["write_failures"] == 0


def test_flush_by_count(tmp_path: Path) -> None:
    logger = make(tmp_path, batch_size=10)
    logger.log_many(record(i) for i in range(10))
    wait_until(lambda: logger.stats()["records_written"] == 10, 5)
    logger.log_many(record(i) for i in range(10, 15))
    time.sleep(0.3)
    assert logger.stats()["records_written"] == 10  # below the count, before the interval
    logger.close()
    assert sum(local_rows(tmp_path / "store").values()) == 15


def test_flush_by_time(tmp_path: Path) -> None:
    logger = make(tmp_path, flush_interval_s=0.2)
    logger.log_many(record(i) for i in range(3))
    wait_until(lambda: logger.stats()["records_written"] == 3, 5)
    assert sum(local_rows(tmp_path / "store").values()) == 3
    logger.close()


def test_flush_on_close(tmp_path: Path) -> None:
    logger = make(tmp_path)
    logger.log_many(record(i) for i in range(7))
    assert local_rows(tmp_path / "store") == {}
    logger.close()
    assert sum(local_rows(tmp_path / "store").values()) == 7
    assert logger.state == "stopped"


def test_store_outage_spools_then_retries_without_loss(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the store's directory should be")
    logger = make(tmp_path, url=str(blocker / "logs"), flush_interval_s=0.1)
    logger.log_many(record(i) for i in range(20))
    wait_until(lambda: logger.stats()["records_in_spool"] == 20, 5)
    stats = logger.stats()
    assert stats["state"] == "spooling"
    assert stats["records_spooled"] == 20 and stats["write_failures"] >= 1
    assert "NotADirectoryError" in stats["last_error"] or "FileExistsError" in stats["last_error"]
    assert sum(local_rows(tmp_path / "spool").values()) == 20
    logger.log_many(record(i) for i in range(20, 30))  # while down: straight to the spool
    wait_until(lambda: logger.stats()["records_in_spool"] == 30, 5)
    blocker.unlink()  # the store is back
    wait_until(lambda: logger.stats()["records_in_spool"] == 0, 10)
    logger.close()
    stats = logger.stats()
    assert stats["records_written"] == stats["records_logged"] == 30
    assert stats["records_dropped"] == 0
    assert sum(local_rows(blocker / "logs").values()) == 30
    assert list((tmp_path / "spool").rglob("*.parquet")) == []


def test_spool_left_by_a_previous_run_is_uploaded_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("x")
    first = make(tmp_path, url=str(blocker / "logs"))
    first.log_many(record(i) for i in range(5))
    first.close()  # the store is down: the shutdown flush goes to the spool
    assert first.stats()["records_in_spool"] == 5
    blocker.unlink()
    second = make(tmp_path, url=str(blocker / "logs"))
    assert second.stats()["records_in_spool"] == 5
    wait_until(lambda: second.stats()["records_in_spool"] == 0, 5)
    second.close()
    assert sum(local_rows(blocker / "logs").values()) == 5


def test_records_wait_in_memory_when_store_and_spool_both_fail(tmp_path: Path) -> None:
    store_block, spool_block = tmp_path / "s", tmp_path / "p"
    store_block.write_text("x")
    spool_block.write_text("x")
    logger = InferenceLogger(
        LogStore(str(store_block / "logs")),
        spool_block / "spool",
        batch_size=5,
        flush_interval_s=0.1,
        retry_interval_s=0.1,
        max_pending=8,
    )
    logger.start()
    logger.log_many(record(i) for i in range(6))
    wait_until(lambda: logger.stats()["write_failures"] >= 1, 5)
    wait_until(lambda: (logger.last_error or "").startswith("spool"), 5)
    assert logger.stats()["records_buffered"] == 6
    assert logger.stats()["state"] == "spooling"
    logger.log_many(record(i) for i in range(6, 10))  # over max_pending: the oldest go
    wait_until(lambda: logger.stats()["records_dropped"] == 2, 5)
    store_block.unlink()  # the store is back: what was kept is written
    wait_until(lambda: logger.stats()["records_written"] == 8, 10)
    logger.close()
    assert sorted(ds.dataset(store_block / "logs").to_table().column("email_id").to_pylist()) == [
        f"e{i}" for i in range(2, 10)
    ]


def test_a_record_the_schema_refuses_fails_the_call_and_the_others_are_written(
    tmp_path: Path,
) -> None:
    logger = make(tmp_path)
    bad = {**record(2), "features": {"body_length_log": "long"}}
    with pytest.raises(TypeError, match="body_length_log"):
        logger.log_many([record(0), record(1), bad, record(3)])
    logger.log(record(4))
    logger.close()
    stats = logger.stats()
    assert stats["records_logged"] == stats["records_written"] == 3
    table = ds.dataset(tmp_path / "store").to_table()
    assert sorted(table.column("email_id").to_pylist()) == ["e0", "e1", "e4"]


def test_a_partition_that_cannot_be_converted_is_counted_lost_and_the_others_written(
    tmp_path: Path,
) -> None:
    logger = make(tmp_path)
    logger.log_many([record(0, "staging"), {**record(1, "production"), "email_id": 1}])
    logger.log(record(2, "staging"))
    logger.close()
    stats = logger.stats()
    assert stats["records_logged"] == 3
    assert stats["records_written"] == 2 and stats["records_dropped"] == 1
    assert "'email_id'" in stats["last_error"]
    rows = local_rows(tmp_path / "store")
    assert list(rows.values()) == [2]
    assert next(iter(rows)).startswith("date=2023-11-14/hour=22/environment=staging/")
