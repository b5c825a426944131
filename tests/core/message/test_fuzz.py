"""Fuzz target for the e-mail parser: whatever the bytes, ``parse_raw`` returns a record or
refuses with ``InvalidEmailError`` (never another exception), in bounded time.

Runs briefly in ``make test`` (``SPAM_FUZZ_EXAMPLES``, default 200 examples); longer on demand:
``SPAM_FUZZ_EXAMPLES=20000 uv run pytest tests/core/message/test_fuzz.py``.
"""

from __future__ import annotations

import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spam_core.errors import InvalidEmailError
from spam_core.message import parse_raw

EXAMPLES = int(os.environ.get("SPAM_FUZZ_EXAMPLES", "200"))

_HEADER_NAMES = st.sampled_from(
    [
        "Subject",
        "From",
        "Date",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "X-Any",
        "From ",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            'multipart/alternative; boundary="b"',
            "message/rfc822",
            "text/html; charset=utf-8",
            "text/plain; charset=x-unknown",
            "base64",
            "quoted-printable",
            "=?utf-8?b?w6TDtsO8?= =?iso-8859-1?q?=E4?=",
            "=?bogus?x?zz?=",
            "attachment; filename=a.exe",
            "Tue, 1 Oct 2002 10:00:00 +0200",
        ]
    ),
)
_LINES = st.one_of(
    st.tuples(_HEADER_NAMES, _VALUES).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    st.sampled_from(["", "--b", "--b--", " folded", "<p>hi <a href='http://x.example'>x</a>"]),
    st.text(max_size=60),
)
_NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Structured-ish messages (headers, boundaries, nesting) or plain random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=2000))
    newline = draw(_NEWLINES)
    text = newline.join(draw(st.lists(_LINES, max_size=40)))
    return text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), "replace")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(messages())
def test_parse_raw_returns_a_record_or_refuses(raw: bytes) -> None:
    started = time.process_time()
    try:
        record = parse_raw(raw)
    except InvalidEmailError:
        return
    finally:
        assert time.process_time() - started < 1.0
    assert record.n_parts >= 0
    assert len(record.subject) <= 1_000
