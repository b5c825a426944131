"""The parser's limits (``spam_core.message.limits``): refused with the limit's name, or
truncated as documented, in bounded time; the corpus is far below every one of them."""

from __future__ import annotations

import time

import pytest

from spam_core.errors import InvalidEmailError
from spam_core.message import limits, parse_fields, parse_raw
from spam_core.message.limits import EmailLimitExceeded
from spam_core.message.record import MAX_PART_CHARS


def _nested(depth: int) -> bytes:
    head = b"".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n".encode() for i in range(depth)
    )
    return head + b"Content-Type: text/plain\n\ninnermost\n"


def _parts(n: int, part: bytes = b"hello world\n") -> bytes:
    body = (b"--z\nContent-Type: text/plain\n\n" + part) * n
    return b"Content-Type: multipart/mixed; boundary=z\n\n" + body + b"--z--\n"


REFUSED = [
    # table row 1: a Subject of 350,000 encoded words (4.9 MB)
    ("MAX_HEADER_BYTES", b"Subject: " + b"=?utf-8?q?a?= " * 350_000 + b"\n\nbody\n"),
    ("MAX_HEADER_BYTES", b"X-Big: " + b"a" * (limits.MAX_HEADER_BYTES + 1) + b"\n\nbody\n"),
    # table row 2: multipart nested 500+ deep (RecursionError in the standard library)
    ("MAX_MIME_DEPTH", _nested(600)),
    ("MAX_MIME_DEPTH", _nested(limits.MAX_MIME_DEPTH + 1)),
    # table row 3: 150,000 parts
    ("MAX_MIME_PARTS", _parts(150_000)),
    ("MAX_HEADERS", b"".join(b"X-H%d: v\n" % i for i in range(limits.MAX_HEADERS + 1)) + b"\nx"),
    ("MAX_RAW_BYTES", b"Subject: x\n\n" + b"x" * limits.MAX_RAW_BYTES),
]


@pytest.mark.parametrize(
    ("limit", "raw"), REFUSED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REFUSED)]
)
def test_over_a_limit_is_refused_naming_it_in_bounded_time(limit: str, raw: bytes) -> None:
    started = time.process_time()
    with pytest.raises(EmailLimitExceeded, match=limit) as caught:
        parse_raw(raw)
    assert time.process_time() - started < 2.0
    assert caught.value.limit == limit
    assert caught.value.value > caught.value.maximum == getattr(limits, limit)
    assert isinstance(caught.value, InvalidEmailError)  # the services' 422


def test_headers_counted_over_all_parts() -> None:
    part = b"--z\n" + b"".join(b"X-P%d: v\n" % i for i in range(300)) + b"\nx\n"
    raw = b"Content-Type: multipart/mixed; boundary=z\n\n" + part * 8 + b"--z--\n"
    with pytest.raises(EmailLimitExceeded, match="MAX_HEADERS"):
        parse_raw(raw)


def test_just_under_the_depth_and_part_limits_parses() -> None:
    assert parse_raw(_nested(limits.MAX_MIME_DEPTH)).text == "innermost"
    # the container counts as a part: limit - 1 leaves
    assert parse_raw(_parts(limits.MAX_MIME_PARTS - 1)).n_parts == limits.MAX_MIME_PARTS - 1


def test_encoded_words_are_decoded_from_a_bounded_prefix() -> None:
    # just under the header limit: ~18,000 encoded words would take seconds to decode whole
    words = b"=?utf-8?q?a?= " * 18_000
    started = time.process_time()
    record = parse_raw(b"Subject: " + words + b"\n\nbody\n")
    assert time.process_time() - started < 0.5
    prefix_words = limits.MAX_HEADER_DECODE_CHARS // len(b"=?utf-8?q?a?= ")
    assert record.subject.startswith("a" * prefix_words)
    # the fields path reads the same prefix, so raw and fields still agree
    same = parse_fields(email_id=record.email_id, subject=words.decode(), body="body")
    assert same.subject == record.subject


def test_text_budget_counts_later_parts_without_reading_them() -> None:
    # each part is read up to MAX_PART_CHARS; the budget runs out after `read` parts
    read = limits.MAX_DECODED_CHARS // MAX_PART_CHARS
    parts = [
        f"http://p{i}.example ".encode() + b"word " * (MAX_PART_CHARS // 4) for i in range(read + 3)
    ]
    body = b"".join(b"--z\nContent-Type: text/plain\n\n" + p + b"\n" for p in parts)
    record = parse_raw(b"Content-Type: multipart/mixed; boundary=z\n\n" + body + b"--z--\n")
    assert record.n_parts == record.n_text_parts == read + 3
    assert [u for u in record.urls if u.startswith("http://p")] == [
        f"http://p{i}.example" for i in range(read)
    ]
