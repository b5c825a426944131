"""Recently scored e-mails by ``email_id``, so a report may name a prediction instead of
carrying the e-mail again (``POST /feedback`` with ``email_id`` + ``label`` only).

An LRU bounded by the e-mails' size (``FEEDBACK_RECENT_EMAILS_MB``): the prediction path only
appends a reference to the already validated ``EmailIn``. It is this process's memory: a
report that names an e-mail another replica scored, or one scored before a restart or evicted
since, is refused (404 ``unknown_email``) and must carry the e-mail. A later prediction under
the same ``email_id`` replaces the earlier one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from spam_core.message.wire import EmailIn


def _size(email: EmailIn) -> int:
    if email.raw is not None:
        return len(email.raw) + 256
    return len(email.subject or "") + len(email.body or "") + len(email.sender or "") + 256


class RecentEmails:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[EmailIn, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def add_many(self, emails: list[EmailIn]) -> None:
        with self._lock:
            for email in emails:
                size = _size(email)
                if size > self.max_bytes:
                    continue
                old = self._items.pop(email.email_id, None)
                if old is not None:
                    self._bytes -= old[1]
                self._items[email.email_id] = (email, size)
                self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, size) = self._items.popitem(last=False)
                self._bytes -= size

    def get(self, email_id: str) -> EmailIn | None:
        with self._lock:
            item = self._items.get(email_id)
        return item[0] if item is not None else None

    def __len__(self) -> int:
        return len(self._items)
