"""``make demo``: a walk through the running local platform, through its public API only."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from spam_core.scoring import TRACKS
from spam_local.config import LocalSettings

SCAM = {
    "email_id": "demo-lottery",
    "subject": "WINNER!!! Claim your lottery prize now",
    "body": "Congratulations! Your e-mail address won $1,000,000 in our international lottery. "
    "Click here http://203.0.113.9/claim and send your bank account details to claim your "
    "prize. Act now, this offer expires in 24 hours!",
    "sender": "Lottery Board <winner8812@yahoo.com>",
    "date": "Sat, 07 Sep 2002 03:14:00 +0800",
}
MEETING = {
    "email_id": "demo-meeting",
    "subject": "Re: notes from Thursday's design review",
    "body": "Hi Bob,\n\nthanks for the notes. I updated the spec and checked the patch into CVS; "
    "the build issue on the test box is still open. Can we go through the remaining items at "
    "Thursday's meeting?\n\nAlice",
    "sender": "Alice Jones <alice@example.org>",
    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
}


def inference_log_rows(root: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in root.rglob("*.parquet"))


def run(
    settings: LocalSettings,
    api_key: str,
    say: Callable[[str], None],
    corpus_messages: list[bytes],
    batch_input: Path | None = None,
) -> dict[str, object]:
    headers = {"X-API-Key": api_key}
    results: dict[str, object] = {}
    with httpx.Client(base_url=settings.gateway_url, timeout=30) as client:
        health = client.get("/health", headers=headers).json()
        say(
            f"GET /health -> {health.get('status')} "
            f"({', '.join(str(s.get('name', s)) for s in health.get('services', []))})"
        )
        say(f"GET /ready -> {client.get('/ready').status_code}")
        rows_before = inference_log_rows(settings.inference_log_dir)

        for env in TRACKS:
            for email in (SCAM, MEETING):
                r = client.post("/predict", json=email, headers={**headers, "X-Environment": env})
                r.raise_for_status()
                p = r.json()
                results[f"{env}:{email['email_id']}"] = p["prediction"]
                say(
                    f"POST /predict [{env}] {email['email_id']}: {p['prediction']} "
                    f"(p={p['spam_probability']:.3f}, {p['confidence']}) by "
                    f"{p['model_name']} v{p['model_version']} in {p['latency_ms']:.1f} ms"
                )

        batch = [
            {"email_id": f"corpus-{i}", "raw": m.decode("utf-8", "replace")}
            for i, m in enumerate(corpus_messages[:20])
        ]
        r = client.post("/predict/batch-sync", json={"emails": batch}, headers=headers)
        r.raise_for_status()
        answer = r.json()
        preds = [p for p in answer["predictions"] if p is not None]  # null: that e-mail failed
        n_spam = sum(1 for p in preds if p["prediction"] == "spam")
        say(
            f"POST /predict/batch-sync with {len(batch)} corpus e-mails: {n_spam} spam, "
            f"{len(preds) - n_spam} ham, {answer['failed']} failed"
        )
        results["batch_sync"] = len(preds)

        if batch_input is not None:
            r = client.post(
                "/predict/batch",
                json={"input_path": str(batch_input)},
                headers={**headers, "X-Environment": "production"},
            )
            r.raise_for_status()
            job = r.json()
            say(f"POST /predict/batch {batch_input.name} -> job {job['job_id']} ({job['status']})")
            deadline = time.monotonic() + 300
            while job["status"] in ("pending", "running") and time.monotonic() < deadline:
                time.sleep(2)
                job = client.get(f"/predict/batch/{job['job_id']}", headers=headers).json()
            say(
                f"GET /predict/batch/{job['job_id']} -> {job['status']}: {job['counts']} -> "
                f"{job['output_path']}"
            )
            results["batch_job"] = job["status"]
            expected_rows = 4 + len(batch) + job["counts"].get("scored", 0)
        else:
            expected_rows = 4 + len(batch)

        deadline = time.monotonic() + 15
        rows_after = rows_before
        while time.monotonic() < deadline:
            rows_after = inference_log_rows(settings.inference_log_dir)
            if rows_after >= rows_before + expected_rows:
                break
            time.sleep(0.5)
        say(f"inference log {settings.inference_log_dir}: {rows_before} -> {rows_after} rows")
        results["log_rows_added"] = rows_after - rows_before
    return results
