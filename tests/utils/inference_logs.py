"""Synthetic inference logs and drift baselines (tests and the drift benchmark).

Feature distributions imitate the real named features: binary flags, zero-inflated log
counts and ratios in [0, 1]. ``shift`` moves every distribution (flag rates, count scale,
ratio means) and the score; ``shift=0`` draws from the baseline's own distributions.
Files are written with the gateway's schema (:func:`spam_core.inference_log.to_table` of one
record gives the schema) and partition layout.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spam_core import inference_log as schema
from spam_core.drift import DriftBaseline, build_baseline
from spam_core.features.spec import NAMED_FEATURES

THRESHOLD = 0.5


def feature_matrix(n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    cols = []
    for j, _ in enumerate(NAMED_FEATURES):
        kind = j % 3
        if kind == 0:  # flag
            p = min(0.95, 0.1 + 0.03 * (j % 7) + 0.3 * shift)
            cols.append((rng.random(n) < p).astype(np.float64))
        elif kind == 1:  # zero-inflated log count
            zero = rng.random(n) < max(0.05, 0.4 - 0.3 * shift)
            cols.append(np.where(zero, 0.0, np.log1p(rng.lognormal(1.0 + shift, 0.8, n))))
        else:  # ratio
            a = 2.0 + 6.0 * shift
            cols.append(rng.beta(a, 5.0, n))
    return np.column_stack(cols)


def scores(n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    spam = rng.random(n) < min(0.95, 0.35 + 0.5 * shift)
    return np.where(spam, rng.beta(8, 2, n), rng.beta(2, 8, n))


def make_baseline(n: int = 5000, seed: int = 1) -> DriftBaseline:
    rng = np.random.default_rng(seed)
    s = scores(n, rng)
    return build_baseline(
        feature_matrix(n, rng),
        list(NAMED_FEATURES),
        labels=(s >= THRESHOLD).astype(int),
        scores=s,
        score_split="synthetic",
        threshold=THRESHOLD,
        feature_set="synthetic",
        features_fingerprint="synthetic",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def write_baseline(path: Path, baseline: DriftBaseline) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline.model_dump_json())
    return path


def log_schema() -> pa.Schema:
    record = {"timestamp": 0.0, "environment": "x", "features": dict.fromkeys(NAMED_FEATURES, 0.0)}
    return schema.to_table([record]).schema


def log_table(
    n: int,
    start: datetime,
    duration: timedelta,
    rng: np.random.Generator,
    *,
    shift: float = 0.0,
    model_version: str = "1",
    model_name: str = "spam-detector",
) -> pa.Table:
    """``n`` rows with timestamps spread uniformly over ``[start, start + duration)``."""
    sch = log_schema()
    t0 = int(start.timestamp() * 1_000_000)
    ts = np.sort(t0 + rng.integers(0, int(duration.total_seconds() * 1_000_000), n))
    s = scores(n, rng, shift)
    matrix = feature_matrix(n, rng, shift).astype(np.float32)
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "correlation_id": pa.array([uuid.uuid4().hex for _ in range(min(n, 1))] * n, pa.string()),
        "route": pa.array(["predict"] * n, pa.string()),
        "model_name": pa.array([model_name] * n, pa.string()),
        "model_version": pa.array([model_version] * n, pa.string()),
        "email_id": pa.array([f"e{i}" for i in range(n)], pa.string()),
        "prediction": pa.array(np.where(s >= THRESHOLD, "spam", "ham"), pa.string()),
        "confidence": pa.array(["high"] * n, pa.string()),
        "spam_probability": pa.array(s, pa.float64()),
        "threshold": pa.array(np.full(n, THRESHOLD), pa.float64()),
        "latency_ms": pa.array(rng.gamma(2.0, 1.0, n), pa.float64()),
    }
    for j, name in enumerate(NAMED_FEATURES):
        columns[name] = pa.array(matrix[:, j], pa.float32())
    return pa.table(columns, schema=sch)


def write_log(
    root: Path,
    table: pa.Table,
    environment: str,
    *,
    rows_per_file: int = 1000,
) -> list[Path]:
    """Write ``table`` in the gateway's layout: one file per ``rows_per_file`` rows of an
    (hour, environment) partition, like the gateway's flushes."""
    ts = table.column("timestamp").to_numpy().astype("datetime64[h]")
    hours, starts = np.unique(ts, return_index=True)
    bounds = [*starts.tolist(), table.num_rows]
    written = []
    for k, hour in enumerate(hours):
        moment = hour.astype(datetime).replace(tzinfo=UTC)
        part = table.slice(bounds[k], bounds[k + 1] - bounds[k])
        directory = root / (f"date={moment:%Y-%m-%d}/hour={moment:%H}/environment={environment}")
        directory.mkdir(parents=True, exist_ok=True)
        for offset in range(0, part.num_rows, rows_per_file):
            path = directory / schema.new_file_name()
            pq.write_table(part.slice(offset, rows_per_file), path, compression="zstd")
            written.append(path)
    return written
