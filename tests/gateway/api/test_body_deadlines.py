"""The slow-body timeout (``middleware.BodyDeadlines``), driven with ASGI ``receive`` calls.

tests/security/test_abuse.py holds the 408 on the running gateway; here: the timing bounds,
a body that trickles in over several reads, and cancellations that are not the timeout's.
"""

from __future__ import annotations

import asyncio

import pytest
from starlette.exceptions import HTTPException

from spam_gateway.app.api.middleware import BodyDeadlines

TIMEOUT_S = 0.3


def chunks(delays: list[float]):
    """``receive`` answering one body chunk after each delay (the last ends the body)."""
    pending = list(delays)

    async def receive():
        await asyncio.sleep(pending.pop(0))
        return {"type": "http.request", "body": b"x", "more_body": bool(pending)}

    return receive


async def read_all(receive, pause: float = 0.0) -> int:
    """Reads the body; ``pause``: the app's time between reads (no read is waiting then)."""
    n = 0
    while True:
        message = await receive()
        n += 1
        if not message.get("more_body"):
            return n
        await asyncio.sleep(pause)


def test_a_body_in_time_is_read():
    deadlines = BodyDeadlines(TIMEOUT_S)
    assert asyncio.run(read_all(deadlines.receive(chunks([0.0, 0.05, 0.05])))) == 3


@pytest.mark.parametrize(
    ("delays", "pause"),
    [([10.0], 0.0), ([0.05] * 20, 0.05)],
    ids=["nothing arrives", "a trickle over many reads"],
)
def test_a_slow_body_is_refused_within_its_bounds(delays, pause):
    deadlines = BodyDeadlines(TIMEOUT_S)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(HTTPException) as refused:
            await read_all(deadlines.receive(chunks(delays)), pause)
        assert refused.value.status_code == 408
        return loop.time() - started

    seconds = asyncio.run(run())
    assert TIMEOUT_S <= seconds <= TIMEOUT_S + deadlines.resolution_s + 0.2


def test_another_cancellation_stays_a_cancellation():
    deadlines = BodyDeadlines(TIMEOUT_S)

    async def run() -> None:
        task = asyncio.create_task(read_all(deadlines.receive(chunks([10.0]))))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())


def test_each_event_loop_gets_its_timer():
    deadlines = BodyDeadlines(TIMEOUT_S)
    for _ in range(2):  # a second loop: the first one's timer is gone with it
        with pytest.raises(HTTPException):
            asyncio.run(read_all(deadlines.receive(chunks([10.0]))))
