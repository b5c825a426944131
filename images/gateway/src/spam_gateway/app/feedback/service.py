"""User feedback: reports → the feedback log and the sender / domain totals in Feast.

``FeedbackService`` is built by the lifespan (``app/main.py``) when feedback is on. Per request:

1. the key's report quota (``FEEDBACK_QUOTA``, each report of a batch counts) — 429;
2. every report resolved to an e-mail (carried, or a recently scored one named by
   ``email_id``: ``app/feedback/recent.py``; else 404 ``unknown_email``) and parsed with the
   shared core (a parsing limit → 422) — nothing is applied unless every report of the call
   is valid;
3. the reports applied in order by ``spam_core.reputation.feedback.FeedbackLedger``
   (de-duplication, the daily poisoning bound, the new totals written to the online store with
   Feast), on one worker thread (Feast calls block; the ledger serializes them);
4. one feedback-log row per report (``spam_core.feedback``), written like the inference log:
   buffered, spooled to local disk while the store is down, retried.

The Feast store is opened in the background at start-up (importing Feast takes seconds); until
then, or when it cannot be opened, or the online store fails, reports get 503 with
``Retry-After`` and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from spam_core import feedback as schema
from spam_core.errors import InvalidEmailError
from spam_core.message.limits import EmailLimitExceeded
from spam_core.message.wire import EmailIn
from spam_core.scoring import record_from_input
from spam_gateway.app.core.config import Settings
from spam_gateway.app.core.errors import InvalidInput, NotFound, NotReady, TooManyRequests
from spam_gateway.app.core.security import ApiKey
from spam_gateway.app.core.throttle import rate
from spam_gateway.app.feedback.models import FeedbackIn
from spam_gateway.app.feedback.recent import RecentEmails
from spam_gateway.app.inference_log import InferenceLogger, LogStore

log = structlog.get_logger("spam_gateway.feedback")

RETRY_AFTER_S = 5


class FeedbackService:
    def __init__(self, settings: Settings, recent: RecentEmails | None) -> None:
        self.settings = settings
        self.recent = recent
        store = LogStore(
            settings.FEEDBACK_LOG_URL,
            **settings.store_credentials(),
            timeout_s=settings.INFERENCE_LOG_TIMEOUT_S,
        )
        self.log = InferenceLogger(
            store,
            settings.FEEDBACK_LOG_SPOOL_DIR,
            batch_size=1000,
            flush_interval_s=settings.FEEDBACK_LOG_FLUSH_INTERVAL_S,
            retry_interval_s=settings.INFERENCE_LOG_RETRY_INTERVAL_S,
            max_pending=settings.INFERENCE_LOG_MAX_PENDING,
            schema=schema,
        )
        self.quota = rate(settings.FEEDBACK_QUOTA)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedback")
        self.ledger: Any = None
        self.error: str | None = "the feature store is being opened"
        self._opening: asyncio.Future | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.log.start()
        self._opening = asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    def _open(self) -> None:
        from spam_core.reputation.feedback import FeedbackLedger
        from spam_core.reputation.repo import ensure_ledger, open_store

        try:
            store = open_store(self.settings.FEEDBACK_FEAST_REPO)  # type: ignore[arg-type]
            if ensure_ledger(store, self.settings.FEEDBACK_FEAST_REPO):  # type: ignore[arg-type]
                log.info("feedback.ledger_registered")
            ledger = FeedbackLedger(
                store,
                max_per_sender_day=self.settings.FEEDBACK_MAX_PER_SENDER_DAY,
                max_per_domain_day=self.settings.FEEDBACK_MAX_PER_DOMAIN_DAY,
            )
            ledger.totals("sender", [""])  # the registry, the online store's connection
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:500]
            log.error("feedback.store_unavailable", error=self.error)
            return
        self.ledger, self.error = ledger, None
        log.info("feedback.ready", feast_repo=str(self.settings.FEEDBACK_FEAST_REPO))

    async def ready(self, timeout: float) -> bool:
        """Wait (up to ``timeout``) for the store to open; whether it did."""
        if self._opening is not None:
            await asyncio.wait({self._opening}, timeout=timeout)
        return self.ledger is not None

    def close(self, timeout: float) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.log.close(timeout)

    def status(self) -> dict[str, Any]:
        return {"ready": self.ledger is not None, "error": self.error, **self.log.stats()}

    # ------------------------------------------------------------------ requests
    def _check_quota(self, key: ApiKey, n: int) -> None:
        item = self.quota
        if item is not None and not self._limiter.hit(item, "feedback", key.name, cost=n):
            reset, _ = self._limiter.get_window_stats(item, "feedback", key.name)
            raise TooManyRequests(
                f"the feedback quota of key {key.name!r} is spent",
                details={"limit": str(item), "reports": n},
                retry_after=max(1, int(reset - time.time()) + 1),
                code="quota_exceeded",
            )

    def _emails(self, reports: list[FeedbackIn]) -> list[EmailIn]:
        emails, unknown = [], []
        for report in reports:
            email = report.email() if report.has_content else None
            if email is None and self.recent is not None:
                email = self.recent.get(report.email_id)
            if email is None:
                unknown.append(report.email_id)
            emails.append(email)
        if unknown:
            raise NotFound(
                "no recent prediction of this gateway has this email_id: send the e-mail "
                "itself (its fields or raw) with the label",
                details={"unknown_email_ids": unknown[:100]},
                code="unknown_email",
            )
        return emails  # type: ignore[return-value]

    async def submit(
        self, key: ApiKey, reports: list[FeedbackIn], correlation_id: str
    ) -> list[dict[str, Any]]:
        if self.ledger is None:
            raise NotReady(
                f"feedback cannot be recorded now: {self.error}",
                retry_after=RETRY_AFTER_S,
                code="feedback_unavailable",
            )
        self._check_quota(key, len(reports))
        emails = self._emails(reports)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._apply, key, reports, emails, correlation_id
        )

    def _apply(
        self, key: ApiKey, reports: list[FeedbackIn], emails: list[EmailIn], correlation_id: str
    ) -> list[dict[str, Any]]:
        from spam_core.reputation.feedback import Report

        now = time.time()
        parsed = []
        for index, email in enumerate(emails):
            try:
                parsed.append(record_from_input(**email.upstream()))
            except EmailLimitExceeded as exc:
                raise InvalidInput(
                    f"report {index} ({email.email_id!r}) is over a parsing limit: {exc}",
                    details=[{"index": index, "type": "limit_exceeded", "limit": exc.limit}],
                ) from None
            except InvalidEmailError as exc:
                raise InvalidInput(
                    f"report {index} ({email.email_id!r}): {exc}",
                    details=[{"index": index, "type": "invalid_email"}],
                ) from None
        keys = [schema.email_key(record) for record in parsed]
        ledger_reports = [
            Report(key.name, k, r.sender_address, r.sender_domain, fi.label, now)
            for fi, r, k in zip(reports, parsed, keys, strict=True)
        ]
        try:
            outcomes = self.ledger.apply(ledger_reports)
        except Exception as exc:  # the online store (Redis / SQLite) failed
            log.warning("feedback.store_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            raise NotReady(
                "the feature store did not take the feedback; nothing was recorded",
                retry_after=RETRY_AFTER_S,
                code="feature_store_unavailable",
            ) from None
        out, records = [], []
        for fi, email, record, ekey, outcome in zip(
            reports, emails, parsed, keys, outcomes, strict=True
        ):
            out.append(
                {
                    "email_id": fi.email_id,
                    "email_key": ekey,
                    "label": fi.label,
                    "status": outcome.status,
                    "previous_label": outcome.previous_label,
                    "applied": outcome.moved,
                }
            )
            records.append(
                {
                    "timestamp": now,
                    "correlation_id": correlation_id,
                    "reporter": key.name,
                    "email_key": ekey,
                    "email_id": fi.email_id,
                    "label": fi.label,
                    "previous_label": outcome.previous_label,
                    "status": outcome.status,
                    "sender": record.sender_address,
                    "sender_domain": record.sender_domain,
                    "messages_delta": outcome.messages_delta,
                    "spam_delta": outcome.spam_delta,
                    "reference": "content" if fi.has_content else "email_id",
                    "subject": email.subject,
                    "body": email.body,
                    "from_header": email.sender,
                    "date_header": email.date,
                    "raw": email.raw,
                }
            )
        self.log.log_many(records)
        log.info(
            "feedback.recorded",
            reporter=key.name,
            reports=len(out),
            applied=sum(o["applied"] for o in out),
        )
        return out
