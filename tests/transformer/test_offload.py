"""Which requests the transformer parses in its worker pool (``model._heavy``).

A heavy e-mail goes to the pool, so it cannot stall the others (tests/security row 3 holds
that on the running service); the batches the gateway merges from ordinary mail stay on the
event loop, where the serving benchmark measured them cheaper and with a shorter tail than in
the pool (README, "Measured design choices").
"""

from __future__ import annotations

from types import SimpleNamespace

from spam_transformer.model import OFFLOAD_CHARS, OFFLOAD_REQUEST_CHARS, _heavy


def email(chars: int, field: str = "raw") -> SimpleNamespace:
    fields = dict.fromkeys(("raw", "subject", "body", "sender"))
    fields[field] = "x" * chars
    return SimpleNamespace(email_id="e", date=None, **fields)


def test_one_heavy_email_goes_to_the_pool():
    assert _heavy([email(OFFLOAD_CHARS + 1)])
    assert _heavy([email(4_000), email(OFFLOAD_CHARS + 1, "body"), email(4_000)])
    assert not _heavy([email(OFFLOAD_CHARS)])


def test_a_merged_batch_of_ordinary_mail_stays_on_the_loop():
    assert not _heavy([email(30_000) for _ in range(16)])  # 16 e-mails at the corpus's p90
    assert OFFLOAD_CHARS < 16 * 30_000 <= OFFLOAD_REQUEST_CHARS


def test_many_ordinary_emails_together_go_to_the_pool():
    n = OFFLOAD_REQUEST_CHARS // 60_000 + 1
    assert _heavy([email(60_000) for _ in range(n)])
