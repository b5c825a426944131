"""The inference-log schema helpers shared by the gateway and batch jobs."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spam_core import inference_log as il
from spam_core.features.spec import NAMED_FEATURES


def _records(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    base = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: the records cross midnight
    return [
        {
            "timestamp": base + rng.uniform(-7200, 9000),
            "environment": rng.choice(["staging", "production"]),
            "email_id": f"e{i}",
            "spam_probability": rng.random(),
            "features": {name: rng.random() for name in NAMED_FEATURES[: rng.randint(0, 28)]},
        }
        for i in range(n)
    ]


def test_grouping_follows_each_records_own_partition_across_hours_and_days():
    records = _records(500)
    groups = il.group_by_partition(records)
    assert sum(len(g) for g in groups.values()) == len(records)
    for path, members in groups.items():
        assert all(il.partition_of(r) == path for r in members)
    dates = {p.split("/")[0] for p in groups}
    assert len(dates) == 2 and len(groups) > 8  # two days, several hours, both environments
    assert il.partition_of({"timestamp": 1_700_006_400.0, "environment": "staging"}) == (
        "date=2023-11-15/hour=00/environment=staging"
    )


def test_table_has_every_named_feature_column_and_keeps_missing_values_null():
    records = _records(50)
    table = pq.read_table(io.BytesIO(il.to_parquet(records)))
    assert table.column_names[-len(NAMED_FEATURES) :] == list(NAMED_FEATURES)
    for name in NAMED_FEATURES:
        want = [r["features"].get(name) for r in records]
        got = table.column(name).to_pylist()
        assert [g is None for g in got] == [w is None for w in want]
        assert all(abs(g - w) < 1e-6 for g, w in zip(got, want, strict=True) if w is not None)


def _reference_table(records: list[dict]) -> pa.Table:
    """What converting the record dicts column by column gives: the oracle for the buffer."""
    known = set(NAMED_FEATURES)
    extra = sorted({k for r in records for k in r.get("features") or () if k not in known})
    columns = {
        "timestamp": pa.array(
            [round(r["timestamp"] * 1_000_000) for r in records], il.TIMESTAMP_TYPE
        )
    }
    for name, kind in il.SCALAR_COLUMNS.items():
        columns[name] = pa.array([r.get(name) for r in records], kind)
    for name in [*NAMED_FEATURES, *extra]:
        columns[name] = pa.array([(r.get("features") or {}).get(name) for r in records], "float32")
    return pa.table(columns).replace_schema_metadata({"spam_platform.schema": il.SCHEMA_VERSION})


def _assert_same(got: pa.Table, want: pa.Table) -> None:
    assert got.schema.equals(want.schema, check_metadata=True)
    for name in got.column_names:  # NaN != NaN: compare the values' text, nulls apart
        text = [t.column(name).cast(pa.string()).fill_null("null") for t in (got, want)]
        assert text[0].equals(text[1]), name


def _full(i: int, rng: random.Random) -> dict:
    return {
        "timestamp": 1_700_000_000.123456 + i * 0.37,
        "environment": "production",
        "correlation_id": f"c{i}",
        "route": "predict",
        "model_name": "spam-detector",
        "model_version": "3",
        "email_id": f"e{i}",
        "spam_probability": rng.random(),
        "prediction": "ham",
        "confidence": "high",
        "threshold": None if i % 7 == 0 else 0.5,
        "latency_ms": 1.5 + i,
        "features": {name: rng.uniform(-1e6, 1e6) for name in NAMED_FEATURES},
    }


def test_buffered_columns_give_the_table_the_records_give_whatever_their_shape():
    rng = random.Random(11)
    records = [_full(i, rng) for i in range(40)]
    records[3]["features"] = None  # no features: a row of nulls
    records[5]["features"] = {}
    records[8]["features"][NAMED_FEATURES[2]] = None  # one null value
    records[9]["features"] = dict(reversed(records[9]["features"].items()))  # other key order
    records[12]["features"]["added_later"] = 2.5  # a name the transformer adds later
    del records[13]["features"][NAMED_FEATURES[0]]  # a named feature missing
    records[14]["features"] = {"added_later": 1, "another": None}
    records[15]["features"][NAMED_FEATURES[1]] = 7  # an int
    del records[16]["email_id"]  # a scalar column left out: null
    records[17]["features"][NAMED_FEATURES[4]] = float("nan")  # NaN stays a value, not null
    got = il.to_table(records)
    want = _reference_table(records)
    assert got.schema == want.schema
    assert got.column_names[-2:] == ["added_later", "another"]
    _assert_same(got, want)
    assert got.column(NAMED_FEATURES[0]).null_count == 4  # records 3, 5, 13, 14
    _assert_same(pq.read_table(io.BytesIO(il.to_parquet(records))), want)


def test_a_record_the_schema_refuses_raises_when_added_and_leaves_nothing_behind():
    rng = random.Random(5)
    columns = il.Columns()
    columns.append(_full(0, rng))
    bad = [
        ({**_full(1, rng), "timestamp": None}, TypeError),
        ({k: v for k, v in _full(2, rng).items() if k != "timestamp"}, KeyError),
        ({**_full(3, rng), "features": {"spam_words": "many"}}, TypeError),
        ({**_full(4, rng), "features": [1.0, 2.0]}, TypeError),
    ]
    for record, error in bad:
        with pytest.raises(error):
            columns.append(record)
    assert len(columns) == 1
    last = {**_full(5, rng), "features": {"added_later": 1.0}}
    columns.append(last)
    table = columns.table()
    assert table.column("email_id").to_pylist() == ["e0", "e5"]
    assert table.column("added_later").to_pylist() == [None, 1.0]
    assert table.column(NAMED_FEATURES[0]).is_null().to_pylist() == [False, True]


def test_log_buffer_partitions_as_group_by_partition_does():
    records = _records(300)
    for record in records:
        record["features"] = record["features"] or None
    buffer = il.new_buffer()
    buffer.add(records)
    assert len(buffer) == 300
    groups = il.group_by_partition(records)
    parts = {path: (rows, build) for path, rows, build in buffer.partitions()}
    assert parts.keys() == groups.keys()
    for path, (rows, build) in parts.items():
        assert rows == len(groups[path])
        assert build().equals(il.to_table(groups[path]))
