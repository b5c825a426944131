"""The demo's feedback loop (``spam_local.demo.feedback_loop``) on the real chain: Triton, a
transformer reading a real Feast online store (SQLite, a copy of the session's repository)
with a reputation cache of 1 s, and a gateway whose ``POST /feedback`` writes that store, with
an operator key as the local platform has — nothing mocked, on free ports (no ``make up``).

The sender is found by scoring, as the demo finds it: a spam-only corpus sender whose history
makes the legitimate-looking e-mail spam (or, if none does, one given a spam history by
reports first). After the "not spam" reports and the cache TTL, the sender's next e-mail
scores lower, and the store's totals show the reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from spam_gateway.app.core.security import hash_key
from tests.utils.gateway import GatewayServer, gateway_settings, wait_until
from tests.utils.serving import InProcessTransformer, sqlite_feast_copy, transformer_env

pytestmark = pytest.mark.timeout(600)

KEY = "spk_loop_operator"
TTL_S = 1.0
REPORTS = 10


@pytest.fixture(scope="module")
def gateway(
    feast_repo: Path, model_bundles, triton_server, tmp_path_factory
) -> Iterator[GatewayServer]:
    tmp = tmp_path_factory.mktemp("loop")
    repo = sqlite_feast_copy(feast_repo, tmp / "feast")
    env = transformer_env(model_bundles, triton_server, "grpc", repo, reputation_cache_ttl_s=TTL_S)
    keys = orjson.dumps([{"name": "local-operator", "sha256": hash_key(KEY), "role": "operator"}])
    with InProcessTransformer(env) as transformer:
        settings = gateway_settings(
            tmp,
            TRANSFORMER_URL=transformer.url,
            API_KEYS=keys.decode(),
            FEEDBACK_FEAST_REPO=repo,
            FEEDBACK_LOG_URL=str(tmp / "feedback-logs"),
            FEEDBACK_LOG_SPOOL_DIR=tmp / "feedback-spool",
        )
        with GatewayServer(settings) as server:
            feedback = server.app.state.feedback
            wait_until(
                lambda: feedback.ledger is not None or "opened" not in (feedback.error or ""),
                90,
                interval=0.2,
            )
            assert feedback.ledger is not None, feedback.error
            yield server


def test_ham_reports_move_a_spam_heavy_senders_next_email_toward_ham(gateway, dataset_dir):
    from spam_local.demo import feedback_loop, legitimate_mail, spam_heavy_senders

    senders = spam_heavy_senders(dataset_dir)
    assert senders, "the corpus has spam-only senders"
    contents = legitimate_mail(dataset_dir)
    assert contents, "the test split has ham e-mails"
    lines: list[str] = []
    with httpx.Client(base_url=gateway.url, headers={"X-API-Key": KEY}, timeout=60) as client:
        run = feedback_loop(
            client, senders, lines.append, reports=REPORTS, cache_ttl_s=TTL_S, contents=contents
        )
    print("\n".join(lines))
    assert run.subject in {c["subject"] for c in contents}

    # the history's own effect is measured against the same e-mail without history; its sign
    # is the served model's guarantee (spam_trainer.coldstart, tested in tests/trainer), not
    # these fixture bundles' (plain XGBoost on content + reputation)
    assert 0.0 <= run.content_only <= 1.0 and run.content_only != run.before
    if run.found_by_scoring:
        assert run.sender in senders and run.spam_statuses is None
    else:
        assert run.spam_statuses == {"applied": REPORTS - run.ham_reports}
    # every "not spam" report moved the totals, and the next e-mail scores lower
    assert run.statuses == {"applied": run.ham_reports}
    ledger = gateway.app.state.feedback.ledger
    messages, spam = ledger.totals("sender", [run.sender])[run.sender]
    assert messages >= run.ham_reports and spam <= messages - run.ham_reports
    assert run.after < run.before, (run.before, run.after)
    assert any(run.sender in line and " again: " in line for line in lines)
