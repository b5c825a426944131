"""The ``spam-gateway`` entry point: serves with uvicorn from the environment, and on SIGTERM
flushes the inference log before it exits (the chart gives pods 30 s to drain)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.utils.gateway import API_KEYS_JSON, VIEWER, GatewayProcess, local_rows

pytestmark = pytest.mark.timeout(120)


def test_entry_point_serves_and_flushes_on_sigterm(transformer, tmp_path: Path) -> None:
    logs = tmp_path / "inference-logs"
    gateway = GatewayProcess(
        {
            "SPAM_GATEWAY_TRANSFORMER_URL": transformer.url,
            "SPAM_GATEWAY_API_KEYS": API_KEYS_JSON,
            "SPAM_GATEWAY_INFERENCE_LOG_URL": f"file://{logs}",
            "SPAM_GATEWAY_INFERENCE_LOG_SPOOL_DIR": str(tmp_path / "spool"),
            "SPAM_GATEWAY_INFERENCE_LOG_FLUSH_INTERVAL_S": "600",  # only the shutdown flush
        },
        tmp_path / "gateway.log",
    ).start()
    try:
        answered = 0
        for i in range(6):
            email = {"email_id": f"m{i}", "subject": "s", "body": "b", "sender": "a@b.example"}
            r = httpx.post(f"{gateway.url}/predict", json=email, headers=VIEWER, timeout=30)
            assert r.status_code == 200, r.text
            answered += 1
        assert local_rows(logs) == {}
    finally:
        code = gateway.stop()
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete
    assert code in (0, -15), gateway.log()
    assert "Application shutdown complete" in gateway.log()
    assert sum(local_rows(logs).values()) == answered
    log = gateway.log()
    assert '"event": "gateway.stopped"' in log  # JSON logs by default
    assert '"records_written": 6' in log
