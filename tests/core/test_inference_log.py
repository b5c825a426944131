"""The inference-log schema helpers shared by the gateway and batch jobs."""

from __future__ import annotations

import io
import random

import pyarrow.parquet as pq

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
