"""Inference logs into a real Azurite (Azure Blob emulator) through adlfs.

End to end: predictions answered by the real chain (gateway → transformer → Triton) become
Parquet blobs; Azurite stopped mid-run → the gateway spools to local disk and stays healthy
but ``degraded``; Azurite back → the spool is uploaded; gateway stopped → its buffer is
flushed. Rows in the container == predictions answered, row for row.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError

from spam_core.features.spec import REPUTATION_NAMES
from spam_gateway.app.inference_log import LogStore
from tests.utils.gateway import OPERATOR, VIEWER, blob_rows, read_blobs, wait_until

pytestmark = pytest.mark.timeout(180)

CONTAINER = "logs"
PREFIX = "inference-logs"


def test_log_store_writes_blobs_to_azurite(azurite) -> None:
    azurite.container(CONTAINER).create_container()
    store = LogStore(f"abfs://{CONTAINER}/{PREFIX}", connection_string=azurite.connection_string)
    store.write("date=2024-01-01/hour=00/environment=staging/part-x.parquet", b"PAR1-test")
    names = [b.name for b in azurite.container(CONTAINER).list_blobs()]
    assert names == [f"{PREFIX}/date=2024-01-01/hour=00/environment=staging/part-x.parquet"]


def test_log_store_fails_fast_when_azurite_is_down(azurite) -> None:
    azurite.container(CONTAINER).create_container()
    store = LogStore(f"abfs://{CONTAINER}/{PREFIX}", connection_string=azurite.connection_string)
    azurite.stop()
    started = time.monotonic()
    with pytest.raises(ServiceRequestError):
        store.write("a/part-y.parquet", b"x")
    assert time.monotonic() - started < 5  # the SDK's own retries (15 s back-off) are off


def emails(prefix: str, n: int) -> list[dict[str, str]]:
    return [
        {
            "email_id": f"{prefix}-{i}",
            "subject": f"offer {i}",
            "body": "win money now $$$ " * (i % 5),
            "sender": f"user{i}@example.org",
        }
        for i in range(n)
    ]


def send(gateway, batch: list[dict[str, str]]) -> set[str]:
    """Half one by one (concurrently), half as batch-sync; the ids answered with 200."""
    half = len(batch) // 2

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, headers=VIEWER, timeout=60) as client:
            singles = [
                client.post("/predict", json=e, headers={"X-Environment": env})
                for e, env in zip(batch[:half], ["staging", "production"] * half, strict=False)
            ]
            responses = await asyncio.gather(*singles)
            synced = await client.post("/predict/batch-sync", json={"emails": batch[half:]})
            return [*responses, synced]

    answered = set()
    for r in asyncio.run(run()):
        assert r.status_code == 200, r.text
        doc = r.json()
        answered.update(d["email_id"] for d in doc.get("predictions", [doc]))
    return answered


def test_outage_spools_and_retries_and_every_answer_is_logged(
    azurite, make_gateway, transformer
) -> None:
    azurite.container(CONTAINER).create_container()
    gateway = make_gateway(
        TRANSFORMER_URL=transformer.url,
        INFERENCE_LOG_URL=f"abfs://{CONTAINER}/{PREFIX}",
        INFERENCE_LOG_CONNECTION_STRING=azurite.connection_string,
        INFERENCE_LOG_BATCH_SIZE=25,
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.3,
        INFERENCE_LOG_RETRY_INTERVAL_S=0.3,
        INFERENCE_LOG_TIMEOUT_S=2,
    )
    stats = gateway.inference_log.stats
    answered = send(gateway, emails("before", 40))
    wait_until(lambda: stats()["records_written"] == len(answered), 15)
    container = azurite.container(CONTAINER)
    assert sum(blob_rows(container, PREFIX).values()) == len(answered)

    azurite.stop()  # outage: answers go on, logs go to the spool
    answered |= send(gateway, emails("during", 30))
    wait_until(lambda: stats()["records_in_spool"] == 30, 15)
    health = httpx.get(gateway.url + "/health", headers=OPERATOR, timeout=10).json()
    assert health["status"] == "degraded"
    log_service = {s["name"]: s for s in health["services"]}["inference_log"]
    assert log_service["status"] == "degraded"
    assert log_service["detail"]["state"] == "spooling"
    metrics = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert "spam_gateway_inference_log_records_in_spool 30.0" in metrics
    assert "spam_gateway_inference_log_records_spooled_total 30.0" in metrics

    azurite.start()  # same port, same --location: the store is back with its old blobs
    wait_until(lambda: stats()["records_in_spool"] == 0, 20)
    answered |= send(gateway, emails("after", 20))
    gateway.stop()  # shutdown flushes the rest

    final = stats()
    assert final["records_dropped"] == 0
    assert final["records_written"] == final["records_logged"] == len(answered) == 90
    rows = blob_rows(container, PREFIX)
    assert sum(rows.values()) == 90
    for name in rows:
        parts = name.removeprefix(PREFIX + "/").split("/")
        assert [p.split("=")[0] for p in parts[:3]] == ["date", "hour", "environment"]
        assert parts[3].startswith("part-") and parts[3].endswith(".parquet")
    table = read_blobs(container, PREFIX)
    assert sorted(table.column("email_id").to_pylist()) == sorted(answered)  # no duplicates
    assert set(table.column("environment").to_pylist()) == {"staging", "production"}
    assert set(table.column("route").to_pylist()) == {"predict", "batch-sync"}
    assert table.column("body_length_log").null_count == 0
    # the transformer's named features include the sender reputation: logged by name too
    for name in REPUTATION_NAMES:
        assert table.column(name).null_count == 0, name
    assert list(gateway.settings.INFERENCE_LOG_SPOOL_DIR.rglob("*.parquet")) == []
