"""A batch scoring job on Ray Data: e-mails in, a Parquet of predictions out.

Input (``input_path``, a local path or an fsspec URL such as ``abfs://container/path``):

* Parquet (a file or a directory of files) with ``email_id`` and either ``raw`` (RFC 822 text)
  or ``subject``/``body``/``sender``/``date`` columns — or an ingested dataset's
  ``emails.parquet`` (normalized records);
* anything ``spam-platform ingest`` reads: an archive, a message tree, a maildir, an mbox
  (remote ones are downloaded first).

Each Ray worker loads the model bundle once and scores batches through exactly the serving
feature path and ONNX model. Output (``output_path``): Parquet files with ``email_id``,
``source``, ``spam_probability``, ``prediction``, ``confidence``, ``model_version``, ``error``.
A message that cannot be parsed gets a row with ``error`` set, never a failed job. The job's
status document (``spam_core.jobs``) is updated when it starts and when it ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from spam_core.features.spec import N_TFIDF, NAMED_FEATURES
from spam_core.jobs import JobStatus, StatusStore

PREDICTION_SCHEMA = pa.schema(
    [
        pa.field("email_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("spam_probability", pa.float64()),
        pa.field("prediction", pa.string()),
        pa.field("confidence", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("error", pa.string()),
    ]
)
SCORED_SCHEMA = pa.schema(
    [*PREDICTION_SCHEMA, *(pa.field(n, pa.float32()) for n in NAMED_FEATURES)]
)
_CHUNK = 2000


def _is_parquet(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    if path.endswith(".parquet"):
        return True
    if fs.isdir(path):
        return any(p.endswith(".parquet") for p in fs.ls(path, detail=False))
    return False


def _stage_source(input_path: str, work: Path) -> Path:
    """A corpus source (archive, tree, mbox) as local Parquet chunks of (email_id, source, raw)."""
    from spam_core.ingest.sources import RawMessage, iter_source
    from spam_core.message.parse import email_id_for

    fs, path = fsspec.core.url_to_fs(input_path)
    local = path
    if not isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        local = str(work / "input" / Path(path).name)
        fs.get(path, local, recursive=True)
    out = work / "staged"
    out.mkdir(parents=True)
    rows: dict[str, list[Any]] = {"email_id": [], "source": [], "raw": []}
    part = 0

    def flush() -> None:
        nonlocal part
        if rows["email_id"]:
            pq.write_table(pa.table(rows), out / f"part-{part:05d}.parquet")
            part += 1
            for v in rows.values():
                v.clear()

    for item in iter_source(local):
        if isinstance(item, RawMessage):
            rows["email_id"].append(email_id_for(item.data))
            rows["source"].append(f"{item.source}:{item.member}")
            rows["raw"].append(item.data)
            if len(rows["email_id"]) >= _CHUNK:
                flush()
    flush()
    return out


class Scorer:
    """Ray Data callable class: one bundle per worker, one ONNX call per batch."""

    def __init__(self, bundle_dir: str, model_version: str, feast_repo: str) -> None:
        from spam_core.bundle import ModelBundle
        from spam_core.reputation.online import OnlineReputation

        self.bundle = ModelBundle.load(bundle_dir)
        self.model_version = model_version
        # the same online store and the same lookups as the transformer; unlike the online
        # path a batch job does not score with default reputation when the store is down: it
        # fails with the reason (and can be run again), never quietly degrades a whole batch
        self.reputation = OnlineReputation.from_repo(feast_repo)
        self._require_store(self.reputation.warm_up())

    @staticmethod
    def _require_store(status: Any) -> None:
        if not status.healthy:
            raise RuntimeError(f"the reputation store (Feast online store) fails: {status.error}")

    def __call__(self, batch: pa.Table) -> dict[str, list[Any]]:
        from spam_core.ingest.dataset import record_from_row
        from spam_core.scoring import decide, record_from_input

        rows = batch.to_pylist()
        dataset_rows = "html_text" in batch.column_names and "urls" in batch.column_names
        records: list[Any] = []
        errors: list[str | None] = []
        for row in rows:
            email_id = str(row["email_id"])
            try:
                if dataset_rows:  # an ingested dataset: normalized records already
                    records.append(record_from_row({**row, "id": email_id}))
                else:
                    records.append(
                        record_from_input(
                            email_id,
                            raw=row.get("raw"),
                            subject=row.get("subject"),
                            body=row.get("body"),
                            sender=row.get("sender"),
                            date=row.get("date"),
                        )
                    )
                errors.append(None)
            except Exception as exc:  # reported per row, never fatal
                records.append(None)
                errors.append(f"{type(exc).__name__}: {exc}")
        ok = [i for i, r in enumerate(records) if r is not None]
        matrix = self.bundle.extractor.transform_records([records[i] for i in ok], self.reputation)
        self._require_store(self.reputation.status())
        probs = self.bundle.predict_matrix(matrix) if ok else []
        p_by_row = dict(zip(ok, (float(p) for p in probs), strict=True))
        f_by_row = dict(zip(ok, matrix[:, N_TFIDF:].tolist(), strict=True))
        t = self.bundle.threshold
        out: dict[str, list[Any]] = {name: [] for name in SCORED_SCHEMA.names}
        for i, row in enumerate(rows):
            p = p_by_row.get(i)
            out["email_id"].append(str(row["email_id"]))
            out["source"].append(row.get("source"))
            out["spam_probability"].append(p)
            verdict, how_sure = (None, None) if p is None else decide(p, t)
            out["prediction"].append(verdict)
            out["confidence"].append(how_sure)
            out["model_version"].append(self.model_version)
            out["error"].append(errors[i])
            feats = f_by_row.get(i)
            for j, name in enumerate(NAMED_FEATURES):
                out[name].append(None if feats is None else feats[j])
        return out


def write_inference_log(scored: pa.Table, status: JobStatus, url: str, *, threshold: float) -> int:
    """Every scored row as an inference-log record (the gateway's layout and columns)."""
    import time

    from spam_core import inference_log
    from spam_core.bundle import registered_model_name

    model_name = registered_model_name(status.model_ref) or "spam-detector"
    now = time.time()
    records = [
        inference_log.record(
            timestamp=now,
            environment=status.environment,
            correlation_id=status.job_id,
            route="/predict/batch",
            model_name=model_name,
            model_version=row["model_version"],
            email_id=row["email_id"],
            spam_probability=row["spam_probability"],
            prediction=row["prediction"],
            confidence=row["confidence"],
            threshold=threshold,
            latency_ms=None,
            features={n: row[n] for n in NAMED_FEATURES},
        )
        for row in scored.to_pylist()
        if row["spam_probability"] is not None
    ]
    fs, root = fsspec.core.url_to_fs(url)
    for partition, rows in inference_log.group_by_partition(records).items():
        for start in range(0, len(rows), 50_000):
            path = f"{root.rstrip('/')}/{partition}/{inference_log.new_file_name()}"
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with fs.open(path, "wb") as fh:
                fh.write(inference_log.to_parquet(rows[start : start + 50_000]))
    return len(records)


def run_job(
    status: JobStatus,
    store: StatusStore,
    *,
    num_cpus: int | None = None,
    cache_dir: Path | None = None,
    inference_log_url: str | None = None,
    feast_repo: str | Path,
) -> JobStatus:
    """Run one job to completion (the status document says how it ended).

    ``feast_repo``: the Feast repository (``feature_store.yaml``) whose online store gives
    the sender reputation, as for the transformer. The stages: check the reputation store,
    resolve the model, start (or join) Ray, read the input, score, publish, count.
    """
    import ray

    from spam_core.bundle import read_meta

    status.state, status.started_at = "running", datetime.now(UTC)
    store.write(status)
    started_ray = False
    try:
        with tempfile.TemporaryDirectory(prefix="spam-batch-", dir=cache_dir) as tmp:
            work = Path(tmp)
            _require_feast_repo(feast_repo)
            bundle_dir = _resolve_model(status, work)
            started_ray = _start_ray(num_cpus)
            scored_table = _score(_read_input(status, work), status, bundle_dir, feast_repo, work)
            table = scored_table.select(PREDICTION_SCHEMA.names)
            _publish(table, status.output_path)
            if inference_log_url:
                write_inference_log(
                    scored_table,
                    status,
                    inference_log_url,
                    threshold=read_meta(bundle_dir).threshold,
                )
        _count(status, table)
        status.state = "succeeded"
    except Exception as exc:  # the status document says why
        status.state = "failed"
        status.errors = [*status.errors, f"{type(exc).__name__}: {exc}"]
    finally:
        if started_ray:
            ray.shutdown()
        status.finished_at = datetime.now(UTC)
        store.write(status)
    return status


def _require_feast_repo(feast_repo: str | Path) -> None:
    from spam_core.reputation.repo import FEATURE_STORE_YAML

    if not (Path(feast_repo) / FEATURE_STORE_YAML).is_file():
        raise FileNotFoundError(
            f"{feast_repo}: no {FEATURE_STORE_YAML} (the Feast repository of the "
            "sender reputation; --feast-repo / SPAM_FEAST_REPO)"
        )


def _resolve_model(status: JobStatus, work: Path) -> Path:
    """The model's bundle directory; sets ``status.model_version``."""
    from spam_core.bundle import read_meta, resolve_model_ref

    bundle_dir, version = resolve_model_ref(status.model_ref, work)
    # the registry's version, else what the caller deployed, else the bundle's own
    status.model_version = version or status.model_version or read_meta(bundle_dir).model_version
    return bundle_dir


def _start_ray(num_cpus: int | None) -> bool:
    """Join the RayJob's cluster (``RAY_ADDRESS``) or start a local Ray; ``True`` when this
    call started it (and so must shut it down)."""
    import ray

    from spam_core.raylocal import workers_without_uv_run

    if ray.is_initialized():
        return False
    workers_without_uv_run()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = os.environ.get("RAY_ADDRESS")  # set inside a KubeRay RayJob
    ray.init(
        address=address,
        num_cpus=None if address else num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=None if address else tempfile.mkdtemp(prefix="ray-", dir="/tmp"),
    )
    return True


def _read_input(status: JobStatus, work: Path) -> Any:
    """The input as a Ray dataset: a Parquet of e-mails as it is, anything else staged."""
    import ray

    fs, path = fsspec.core.url_to_fs(status.input_path)
    if not fs.exists(path):
        raise FileNotFoundError(f"input not found: {status.input_path}")
    if _is_parquet(fs, path):
        source = status.input_path
        return ray.data.read_parquet(source if "://" in source else path)
    return ray.data.read_parquet(str(_stage_source(status.input_path, work)))


def _score(
    ds: Any, status: JobStatus, bundle_dir: Path, feast_repo: str | Path, work: Path
) -> pa.Table:
    """Every row scored by a pool of :class:`Scorer` actors (``SCORED_SCHEMA``)."""
    import ray

    # one CPU stays free for the read and write tasks, or the actors starve them
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = max(1, min(cpus - 1, 8))
    scored = ds.map_batches(
        Scorer,
        fn_constructor_args=(str(bundle_dir), status.model_version, str(feast_repo)),
        batch_size=256,
        batch_format="pyarrow",
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
    )
    out_dir = work / "output"
    scored.write_parquet(str(out_dir))
    return pq.read_table(out_dir, schema=SCORED_SCHEMA)


def _count(status: JobStatus, table: pa.Table) -> None:
    status.counts.input = table.num_rows
    preds = table.column("prediction").to_pylist()
    status.counts.spam = sum(1 for p in preds if p == "spam")
    status.counts.ham = sum(1 for p in preds if p == "ham")
    status.counts.scored = status.counts.spam + status.counts.ham
    errs = [e for e in table.column("error").to_pylist() if e]
    status.counts.errors = len(errs)
    status.errors = errs[:20]


def _output_file(output_path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """``output_path`` itself when it names a ``….parquet`` file, else ``predictions.parquet``
    inside it."""
    fs, path = fsspec.core.url_to_fs(output_path)
    return fs, path if path.endswith(".parquet") else f"{path.rstrip('/')}/predictions.parquet"


def _publish(table: pa.Table, output_path: str) -> None:
    """The predictions as one Parquet file (:func:`_output_file`)."""
    fs, target = _output_file(output_path)
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(target, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


def iter_predictions(output_path: str) -> Iterator[dict[str, Any]]:
    fs, target = _output_file(output_path)
    with fs.open(target, "rb") as fh:
        yield from pq.read_table(fh).to_pylist()
