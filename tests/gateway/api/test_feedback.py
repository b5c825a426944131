"""POST /feedback and /feedback/batch on the real chain, with a real Feast online store.

Per online store (SQLite, a copy of the session's repository; Redis, a real redis-server on
a free port with the train history materialized): a transformer of its own without a
reputation cache (its next read sees the store), a gateway in front of it whose feedback
writes that store. Nothing is mocked: scores come from Triton, totals from Feast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pyarrow.dataset as ds
import pytest

from spam_gateway.app.core.security import hash_key
from tests.utils.gateway import GatewayServer, gateway_settings, wait_until
from tests.utils.services import RedisServer
from tests.utils.serving import (
    InProcessTransformer,
    redis_feast_repo,
    sqlite_feast_copy,
    transformer_env,
)

pytestmark = pytest.mark.timeout(300)

PER_SENDER_DAY = 5
QUOTA = 40
KEYS = {
    "viewer": "spk_fb_viewer",
    "reporter-a": "spk_fb_reporter_a",
    "reporter-b": "spk_fb_reporter_b",
    "reporter-quota": "spk_fb_reporter_quota",
    "operator": "spk_fb_operator",
}
ROLES = {"viewer": "viewer", "operator": "operator"}


def headers(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


API_KEYS = orjson.dumps(
    [
        {"name": name, "sha256": hash_key(key), "role": ROLES.get(name, "reporter")}
        for name, key in KEYS.items()
    ]
).decode()


@dataclass
class Stack:
    store: str
    repo: Path
    gateway: GatewayServer

    def post(self, path: str, body: object, key: str = "reporter-a") -> httpx.Response:
        return httpx.post(self.gateway.url + path, json=body, headers=headers(key), timeout=30)

    def totals(self, sender: str) -> tuple[int, int]:
        return self.gateway.app.state.feedback.ledger.totals("sender", [sender])[sender]

    def domain_totals(self, domain: str) -> tuple[int, int]:
        return self.gateway.app.state.feedback.ledger.totals("sender_domain", [domain])[domain]


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def stack(
    request,
    feast_repo: Path,
    dataset_dir: Path,
    model_bundles: dict[str, Path],
    triton_server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"feedback-{request.param}")
    redis = None
    if request.param == "redis":
        redis = RedisServer(tmp).start()
        repo = redis_feast_repo(dataset_dir, tmp, redis.connection_string)
    else:
        repo = sqlite_feast_copy(feast_repo, tmp / "feast")
    env = transformer_env(model_bundles, triton_server, "grpc", repo, reputation_cache_ttl_s=0)
    try:
        with InProcessTransformer(env) as transformer:
            settings = gateway_settings(
                tmp,
                TRANSFORMER_URL=transformer.url,
                API_KEYS=API_KEYS,
                FEEDBACK_FEAST_REPO=repo,
                FEEDBACK_LOG_URL=str(tmp / "feedback-logs"),
                FEEDBACK_LOG_SPOOL_DIR=tmp / "feedback-spool",
                FEEDBACK_MAX_PER_SENDER_DAY=PER_SENDER_DAY,
                FEEDBACK_MAX_PER_DOMAIN_DAY=100,
                FEEDBACK_QUOTA=f"{QUOTA}/minute",
            )
            with GatewayServer(settings) as gateway:
                feedback = gateway.app.state.feedback
                wait_until(
                    lambda: feedback.ledger is not None or "opened" not in (feedback.error or ""),
                    90,
                    interval=0.2,
                )
                assert feedback.ledger is not None, feedback.error
                yield Stack(request.param, repo, gateway)
    finally:
        if redis is not None:
            redis.stop()


def sender_of(stack: Stack, name: str) -> tuple[str, str]:
    """A sender address and domain no other test (or store) uses."""
    domain = f"{name}-{stack.store}-{uuid.uuid4().hex[:6]}.example"
    return f"news@{domain}", domain


def email(sender: str, n: int, **extra: object) -> dict[str, object]:
    return {
        "email_id": f"m-{n}",
        "subject": f"Your weekly digest #{n}",
        "body": f"Hello, here are this week's {n} updates from our team. Best regards.",
        "sender": f"Newsletter <{sender}>",
        **extra,
    }


def score(stack: Stack, mail: dict[str, object]) -> float:
    response = httpx.post(
        stack.gateway.url + "/predict", json=mail, headers=headers("viewer"), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["spam_probability"]


def test_ham_reports_move_the_senders_next_email_toward_ham(stack: Stack) -> None:
    sender, domain = sender_of(stack, "ham")
    probe = {
        "email_id": "probe",
        "subject": "Limited time offer: claim your free prize now",
        "body": "Click here to claim your free prize! Act now, offer expires today.",
        "sender": sender,
    }
    before = score(stack, probe)
    assert stack.totals(sender) == (0, 0)  # unknown sender: the defaults
    reports = [{**email(sender, n), "label": "ham"} for n in range(PER_SENDER_DAY)]
    for key in ("reporter-a", "reporter-b"):
        response = stack.post("/feedback/batch", {"reports": reports}, key)
        assert response.status_code == 200, response.text
        assert response.json()["counts"] == {"applied": PER_SENDER_DAY}
    assert stack.totals(sender) == (2 * PER_SENDER_DAY, 0)
    assert stack.domain_totals(domain) == (2 * PER_SENDER_DAY, 0)
    after = score(stack, probe)  # the transformer's next read (no cache here)
    assert after < before, (before, after)


def test_a_reporter_counts_once_per_email_and_a_later_label_replaces(stack: Stack) -> None:
    sender, _ = sender_of(stack, "dedup")
    mail = email(sender, 1, date="Tue, 03 Sep 2002 10:15:00 +0200")
    first = stack.post("/feedback", {**mail, "label": "spam"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied" and first.json()["applied"]
    again = stack.post("/feedback", {**mail, "email_id": "another-id", "label": "spam"})
    assert again.json()["status"] == "duplicate" and not again.json()["applied"]
    assert again.json()["email_key"] == first.json()["email_key"]
    # the same e-mail as a raw message is the same e-mail
    raw = (
        f"From: {mail['sender']}\r\nSubject: {mail['subject']}\r\nDate: {mail['date']}\r\n"
        f"\r\n{mail['body']}\r\n"
    )
    as_raw = stack.post("/feedback", {"email_id": "raw", "raw": raw, "label": "spam"})
    assert as_raw.json()["email_key"] == first.json()["email_key"]
    assert as_raw.json()["status"] == "duplicate"
    assert stack.totals(sender) == (1, 1)
    replaced = stack.post("/feedback", {**mail, "label": "ham"})
    assert replaced.json()["status"] == "replaced"
    assert replaced.json()["previous_label"] == "spam"
    assert stack.totals(sender) == (1, 0)
    # another reporter's report of the same e-mail counts on its own
    other = stack.post("/feedback", {**mail, "label": "ham"}, "reporter-b")
    assert other.json()["status"] == "applied"
    assert stack.totals(sender) == (2, 0)


def test_one_reporter_moves_one_sender_a_bounded_amount_per_day(stack: Stack) -> None:
    sender, _ = sender_of(stack, "bound")
    reports = [{**email(sender, n), "label": "spam"} for n in range(PER_SENDER_DAY + 3)]
    response = stack.post("/feedback/batch", {"reports": reports})
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()["reports"]]
    assert statuses == ["applied"] * PER_SENDER_DAY + ["capped"] * 3
    assert stack.totals(sender) == (PER_SENDER_DAY, PER_SENDER_DAY)
    # more reports later the same day: still capped (the count lives in the store)
    late = stack.post("/feedback", {**email(sender, 99), "label": "spam"})
    assert late.json()["status"] == "capped"
    # the bound is per reporter: another one still moves it
    other = stack.post("/feedback", {**email(sender, 99), "label": "spam"}, "reporter-b")
    assert other.json()["status"] == "applied"
    assert stack.totals(sender) == (PER_SENDER_DAY + 1, PER_SENDER_DAY + 1)


def test_reports_that_name_a_scored_email_by_id(stack: Stack) -> None:
    sender, _ = sender_of(stack, "byid")
    mail = {**email(sender, 7), "email_id": f"scored-{uuid.uuid4().hex}"}
    score(stack, mail)
    response = stack.post("/feedback", {"email_id": mail["email_id"], "label": "ham"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"
    assert stack.totals(sender) == (1, 0)
    unknown = stack.post("/feedback", {"email_id": "never-scored", "label": "ham"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_email"


def test_the_reporter_role_is_required(stack: Stack) -> None:
    sender, _ = sender_of(stack, "role")
    refused = stack.post("/feedback", {**email(sender, 1), "label": "spam"}, "viewer")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert stack.totals(sender) == (0, 0)
    allowed = stack.post("/feedback", {**email(sender, 1), "label": "spam"}, "operator")
    assert allowed.status_code == 200
    missing = httpx.post(stack.gateway.url + "/feedback", json={}, timeout=10)
    assert missing.status_code == 401


def test_each_report_counts_against_the_keys_quota(stack: Stack) -> None:
    _, domain = sender_of(stack, "quota")
    reports = [{**email(f"n{n}@{domain}", n), "label": "ham"} for n in range(QUOTA - 2)]
    assert stack.post("/feedback/batch", {"reports": reports}, "reporter-quota").status_code == 200
    over = stack.post("/feedback/batch", {"reports": reports[:3]}, "reporter-quota")
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "quota_exceeded"
    assert int(over.headers["Retry-After"]) >= 1
    assert stack.domain_totals(domain) == (QUOTA - 2, 0)  # the refused batch changed nothing


def test_bad_reports_are_refused_whole(stack: Stack) -> None:
    sender, _ = sender_of(stack, "bad")
    cases = [
        {**email(sender, 1), "label": "maybe"},
        {**email(sender, 1)},
        {"email_id": "x", "subject": "s", "label": "spam"},  # fields incomplete
        {**email(sender, 1), "raw": "From: a@b.example\r\n\r\nx", "label": "spam"},
    ]
    for body in cases:
        response = stack.post("/feedback", body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_input"
    # one unknown reference fails the whole batch: nothing applied
    batch = {"reports": [{**email(sender, 2), "label": "spam"}, {"email_id": "?", "label": "ham"}]}
    assert stack.post("/feedback/batch", batch).status_code == 404
    assert stack.totals(sender) == (0, 0)
    too_many = {"reports": [{**email(sender, n), "label": "spam"} for n in range(101)]}
    assert stack.post("/feedback/batch", too_many).status_code == 422


def test_every_answered_report_is_in_the_feedback_log(stack: Stack) -> None:
    sender, _ = sender_of(stack, "log")
    bodies = [{**email(sender, n % 2), "label": "spam"} for n in range(3)]
    answered = [stack.post("/feedback", b).json() for b in bodies]
    service = stack.gateway.app.state.feedback
    assert service.log.flush(30)
    table = ds.dataset(
        str(stack.gateway.settings.FEEDBACK_LOG_URL), format="parquet", partitioning="hive"
    ).to_table()
    rows = [r for r in table.to_pylist() if r["sender"] == sender]
    assert [r["status"] for r in rows] == [a["status"] for a in answered]
    assert [r["status"] for r in rows] == ["applied", "applied", "duplicate"]
    assert [r["reporter"] for r in rows] == ["reporter-a"] * 3
    assert [(r["messages_delta"], r["spam_delta"]) for r in rows] == [(1, 1), (1, 1), (0, 0)]
    assert rows[0]["subject"] == bodies[0]["subject"]
    assert rows[0]["timestamp"] is not None


def test_feedback_is_off_without_a_feast_repository(tmp_path: Path) -> None:
    with GatewayServer(gateway_settings(tmp_path, API_KEYS=API_KEYS)) as gateway:
        response = httpx.post(
            gateway.url + "/feedback",
            json={"email_id": "x", "label": "ham"},
            headers=headers("reporter-a"),
            timeout=10,
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "feedback_disabled"
    assert response.headers["Retry-After"]
