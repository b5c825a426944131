"""The pipeline's reputation step with the chart's Feast configuration, and the chart's
scheduled materialization reading what it applied.

The chart renders ``feature_store.yaml`` (Redis online store, ``${SPAM_REDIS_CONNECTION_STRING}``)
and ``redis-connection-string`` (the password as ``$(SPAM_REDIS_PASSWORD)``) into its Feast
ConfigMap; the pipeline mounts that ConfigMap and the Redis Secret into the reputation pod.
Here: the chart's render against a real password-protected Redis, the offline history in
Azure Blob (Azurite) as ``abfs://``, and ``spam-gateway materialize`` afterwards reading that
history from Blob. The one substitution: the registry is a local file (the chart's is an
``AzureRegistryStore`` on a real account, which needs Azure).
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import yaml

from tests.charts import chartlib
from tests.utils.gateway import AZURITE_BIN, Azurite

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PASSWORD = "s3cret-redis"


def chart_feast_files(redis_port: int) -> dict[str, str]:
    """The data of the chart's transformer Feast ConfigMap, for a Redis on this machine."""
    values = chartlib.minimal_values(
        {"global": {"redis": {"host": "127.0.0.1", "port": redis_port, "tls": False}}}
    )
    docs = chartlib.render_docs(values)
    return chartlib.only(docs, "ConfigMap", "spam-platform-transformer-feast").body["data"]


def test_prepare_repo_composes_the_connection_like_the_charts_pods(tmp_path, monkeypatch):
    from spam_trainer.reputation import prepare_repo

    data = chart_feast_files(6380)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for name, text in data.items():
        (mounted / name).write_text(text)
    monkeypatch.delenv("SPAM_REDIS_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("SPAM_REDIS_PASSWORD", raising=False)
    with pytest.raises(ValueError, match=r"SPAM_REDIS_PASSWORD"):
        prepare_repo(mounted, tmp_path / "a")
    monkeypatch.setenv("SPAM_REDIS_PASSWORD", "pw")
    repo = prepare_repo(mounted, tmp_path / "b")
    assert (repo / "feature_store.yaml").read_text() == data["feature_store.yaml"]
    # what Kubernetes expands for the chart's own pods (spam-common.redis.env)
    transformer = chartlib.only(
        chartlib.render_docs(
            chartlib.minimal_values(
                {"global": {"redis": {"host": "127.0.0.1", "port": 6380, "tls": False}}}
            )
        ),
        "Deployment",
        "spam-platform-transformer",
    ).body["spec"]["template"]["spec"]
    env = {e["name"]: e for e in chartlib.container(transformer, "transformer")["env"]}
    expected = env["SPAM_REDIS_CONNECTION_STRING"]["value"].replace("$(SPAM_REDIS_PASSWORD)", "pw")
    assert os.environ["SPAM_REDIS_CONNECTION_STRING"] == expected
    with pytest.raises(FileNotFoundError, match=r"feature_store\.yaml"):
        prepare_repo(tmp_path / "nothing", tmp_path / "c")


def test_reputation_with_the_charts_feast_config_feeds_the_materialize_cronjob(
    dataset_dir: Path, redis_server, tmp_path: Path, monkeypatch
) -> None:
    if not AZURITE_BIN.is_file():
        pytest.skip(f"azurite-blob not installed at {AZURITE_BIN} (ci/scripts/install-tools.sh)")
    import redis

    from spam_core import feedback as schema
    from spam_core.features.reputation import reputation_keys
    from spam_core.ingest import read_records
    from spam_core.reputation.feedback import FeedbackLedger
    from spam_core.reputation.repo import open_store
    from spam_trainer.reputation import prepare_repo, reputation_stage

    redis.Redis(port=redis_server.port).config_set("requirepass", PASSWORD)
    azurite = Azurite(tmp_path / "azurite", tmp_path / "azurite.log").start()
    try:
        azurite.container("datasets").create_container()
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
        # the chart's ConfigMap as the pipeline mounts it; only the registry made local
        data = chart_feast_files(redis_server.port)
        config = yaml.safe_load(data["feature_store.yaml"])
        assert config["registry"]["registry_store_type"] == "AzureRegistryStore"
        config["registry"] = str(tmp_path / "registry.db")
        mounted = tmp_path / "mounted"
        mounted.mkdir()
        (mounted / "feature_store.yaml").write_text(yaml.safe_dump(config))
        (mounted / "redis-connection-string").write_text(data["redis-connection-string"])
        monkeypatch.delenv("SPAM_REDIS_CONNECTION_STRING", raising=False)
        monkeypatch.setenv("SPAM_REDIS_PASSWORD", PASSWORD)

        # the reputation step (components.reputation) with feast_history in Blob
        history = "abfs://datasets/feast/history"
        repo = prepare_repo(mounted, tmp_path / "scratch")
        summary = reputation_stage(
            dataset_dir, tmp_path / "work", repo, online=True, history_dir=history
        )
        assert summary.materialized
        blobs = {b.name for b in azurite.container("datasets").list_blobs()}
        assert {
            "feast/history/sender_history.parquet",
            "feast/history/sender_domain_history.parquet",
        } <= blobs
        store = open_store(repo)
        sources = {v.name: v.batch_source.path for v in store.list_feature_views()}
        assert sources["sender_reputation"] == f"{history}/sender_history.parquet"

        # the busiest train sender: its totals are in the online store (Redis, with password)
        records, _ = read_records(dataset_dir, split="train")
        counts = collections.Counter(reputation_keys(r)[0] for r in records)
        counts.pop("", None)
        sender = counts.most_common(1)[0][0]
        domain = sender.rsplit("@", 1)[-1]
        ledger = FeedbackLedger(store, max_per_sender_day=10, max_per_domain_day=50)
        online = ledger.totals("sender", [sender])[sender]
        assert online[0] == counts[sender]

        # Redis loses its data; the feedback log holds one applied "ham" report for the sender
        redis.Redis(port=redis_server.port, password=PASSWORD).flushall()
        assert ledger.totals("sender", [sender])[sender] == (0, 0)
        log_dir = tmp_path / "feedback-logs" / "date=2026-12-05" / "hour=10"
        log_dir.mkdir(parents=True)
        row = {
            "timestamp": time.time(),
            "reporter": "mail-ui",
            "email_key": "k1",
            "label": "ham",
            "status": "applied",
            "sender": sender,
            "sender_domain": domain,
            "messages_delta": 1,
            "spam_delta": 0,
        }
        (log_dir / "part-1.parquet").write_bytes(schema.to_parquet([row]))

        # the CronJob: the env the chart renders (feedback settings; the Redis connection the
        # pod composes from the Secret), reading the history from Blob
        done = subprocess.run(
            [str(Path(sys.executable).parent / "spam-gateway"), "materialize"],
            env={
                **os.environ,
                "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": str(repo),
                "SPAM_GATEWAY_FEEDBACK_LOG_URL": str(tmp_path / "feedback-logs"),
                "SPAM_GATEWAY_LOG_FORMAT": "console",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = orjson.loads(done.stdout.strip().splitlines()[-1])
        assert summary["feedback_events"] == 1 and summary["senders"] == 1
        assert ledger.totals("sender", [sender])[sender] == (online[0] + 1, online[1])
    finally:
        azurite.stop()
