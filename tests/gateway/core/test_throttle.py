"""Failed-authentication throttle (``app/core/throttle.py``) on the limits library's windows.

The running gateway's 429s are held by tests/security/test_abuse.py (row 7); here: a client
counts only with failures inside the window, and the record of failing clients stays bounded.
"""

from __future__ import annotations

import time

import pytest

from spam_gateway.app.core import throttle as throttle_module
from spam_gateway.app.core.errors import TooManyRequests
from spam_gateway.app.core.throttle import Throttle

NO_QUOTAS: dict = {}


def test_a_client_is_throttled_after_its_budget_and_others_are_not():
    throttle = Throttle("3/minute", NO_QUOTAS)
    for _ in range(3):
        throttle.check_client("10.0.0.1")
        throttle.failed("10.0.0.1")
    with pytest.raises(TooManyRequests):
        throttle.check_client("10.0.0.1")
    throttle.check_client("10.0.0.2")


def test_failures_outside_the_window_do_not_count():
    throttle = Throttle("2/second", NO_QUOTAS)
    throttle.failed("10.0.0.1")
    throttle.failed("10.0.0.1")
    with pytest.raises(TooManyRequests):
        throttle.check_client("10.0.0.1")
    time.sleep(1.1)
    throttle.check_client("10.0.0.1")
    throttle.failed("10.0.0.1")
    throttle.check_client("10.0.0.1")  # one failure in the new window: under the budget


def test_the_record_of_failing_clients_is_bounded(monkeypatch):
    monkeypatch.setattr(throttle_module, "_MAX_SUSPECTS", 10)
    throttle = Throttle("1/second", NO_QUOTAS)
    for i in range(10):
        throttle.failed(f"10.0.0.{i}")
    time.sleep(1.1)
    for i in range(10, 15):
        throttle.failed(f"10.0.0.{i}")
    assert len(throttle._failed_at) == 5  # the stale ten dropped
    with pytest.raises(TooManyRequests):
        throttle.check_client("10.0.0.14")


def test_off_checks_nothing():
    throttle = Throttle(None, NO_QUOTAS)
    for _ in range(100):
        throttle.failed("10.0.0.1")
    throttle.check_client("10.0.0.1")
