"""parse_raw / parse_fields: real corpus messages and edge cases built here."""

from __future__ import annotations

import base64
import tarfile
import time
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from spam_core.errors import InvalidEmailError
from spam_core.message import parse_fields, parse_raw
from spam_core.message.decoding import decode_header_text, parse_date
from spam_core.message.parse import MAX_RAW_BYTES
from spam_core.message.record import MAX_TEXT_CHARS
from tests.utils.emails import nested_multipart, simple


def _archive_messages(corpus_dir: Path, name: str, limit: int | None = None) -> list[bytes]:
    out = []
    with tarfile.open(corpus_dir / name) as tar:
        for m in tar:
            if m.isfile() and not m.name.endswith("cmds"):
                out.append(tar.extractfile(m).read())
                if limit and len(out) >= limit:
                    break
    return out


def test_every_hard_ham_and_spam_message_parses(corpus_dir):
    messages = _archive_messages(corpus_dir, "20030228_hard_ham.tar.bz2")
    messages += _archive_messages(corpus_dir, "20030228_spam.tar.bz2")
    records = [parse_raw(m) for m in messages]
    assert len(records) == 210 + 384
    with_body = sum(1 for r in records if r.text or r.html_text)
    assert with_body >= 0.98 * len(records)
    assert sum(1 for r in records if r.sender_address) >= 0.98 * len(records)
    assert sum(1 for r in records if r.date is not None) >= 0.95 * len(records)
    assert sum(1 for r in records if r.n_html_parts) > 100  # spam is HTML-heavy


def test_simple_message_fields():
    r = parse_raw(simple(subject="Lunch?", body="Meet at noon.\nBring the notes."))
    assert r.subject == "Lunch?"
    assert r.sender == "Ann <ann@example.org>"
    assert (r.sender_name, r.sender_address, r.sender_domain) == (
        "Ann",
        "ann@example.org",
        "example.org",
    )
    assert r.date == datetime(2002, 9, 3, 10, 15, tzinfo=timezone(timedelta(hours=2)))
    assert r.text == "Meet at noon.\nBring the notes."
    assert r.html_text == ""
    assert (r.n_parts, r.n_text_parts, r.n_html_parts, r.n_attachments) == (1, 1, 0, 0)
    assert len(r.email_id) == 16


def test_empty_body():
    r = parse_raw(b"Subject: nothing\r\nFrom: a@b.c\r\n\r\n")
    assert r.subject == "nothing"
    assert r.text == "" and r.html_text == "" and r.urls == ()


def test_two_megabyte_body_is_capped_and_fast():
    body = ("All work and no play makes Jack a dull boy. " * 50_000)[:2_000_000]
    raw = b"Subject: big\r\nFrom: a@b.c\r\n\r\n" + body.encode()
    started = time.perf_counter()
    r = parse_raw(raw)
    assert time.perf_counter() - started < 2.0  # generous: a guard against quadratic work
    assert len(r.text) == MAX_TEXT_CHARS
    assert r.text.startswith("All work")


def test_non_utf8_bytes_without_charset_fall_back_to_latin1():
    raw = (
        b"Subject: caf\xe9\r\nFrom: Ren\xe9 <rene@example.fr>\r\n\r\nPrix: 10\xa0\x80 \xe9t\xe9\r\n"
    )
    r = parse_raw(raw)
    assert r.subject == "café"
    assert r.sender_name == "René"
    assert "été" in r.text


def test_wrong_declared_charset_falls_back():
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nna\xefve caf\xe9\r\n"
    assert parse_raw(raw).text == "naïve café"


def test_unknown_charset_is_decoded_anyway():
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon-9\r\n\r\nplain words\r\n"
    assert parse_raw(raw).text == "plain words"


def test_rfc2047_subject_and_sender():
    raw = (
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
        b"From: =?utf-8?b?" + base64.b64encode("Zoë".encode()) + b"?= <zoe@example.de>\r\n"
        b"\r\nhi\r\n"
    )
    r = parse_raw(raw)
    assert r.subject == "Grüße aus Köln"
    assert r.sender_name == "Zoë"


def test_base64_and_quoted_printable_bodies():
    b64 = base64.b64encode("Ünïcödé text via base64".encode()).decode()
    raw = (
        f"Subject: b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
    ).encode()
    assert parse_raw(raw).text == "Ünïcödé text via base64"
    qp = (
        b"Subject: q\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6ne Gr=FC=\r\n=DFe\r\n"
    )
    assert parse_raw(qp).text == "Schöne Grüße"


def test_broken_base64_does_not_raise():
    raw = (
        b"Subject: b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SGVsbG8gd29ybGQ!!!not base64 at all%%%\r\n"
    )
    r = parse_raw(raw)
    assert isinstance(r.text, str)


def test_nested_multipart_with_binary_attachment():
    r = parse_raw(nested_multipart())
    assert r.n_parts == 4  # plain, html, png, pdf
    assert (r.n_text_parts, r.n_html_parts, r.n_attachments) == (1, 1, 2)
    assert "See the report" in r.text
    assert "the report" in r.html_text and "<a" not in r.html_text
    assert r.urls.count("http://intranet.corp.example/q3") == 2


def test_no_headers_at_all():
    r = parse_raw(b"just some words on the first line\nand more words\n")
    assert r.subject == "" and r.sender == "" and r.date is None
    assert "and more words" in r.text


def test_broken_headers_no_sender_bad_date():
    raw = (
        b"Subject broken header line without colon\r\n"
        b"Date: Thursday the 45th of Nevermber\r\n"
        b"X-Weird:: \x00\x01\r\n\r\nbody text\r\n"
    )
    r = parse_raw(raw)
    assert r.sender_address == "" and r.date is None


def test_absurd_dates_are_missing():
    assert parse_date("Mon, 01 Jan 1900 00:00:00 +0000") is None
    assert parse_date("Sat, 01 Jan 2150 00:00:00 +0000") is None
    assert parse_date("2024-05-01T12:30:00Z") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_date("Tue, 3 Sep 2002 10:15:00 -0000").tzinfo is not None
    assert parse_date("") is None and parse_date(None) is None


def test_html_only_and_sniffed_html():
    html = "<html><body><p>Buy <b>now</b> &amp; save!</p><script>x()</script></body></html>"
    declared = parse_raw(simple(body=html, html=True))
    sniffed = parse_raw(simple(body=html))  # declared text/plain, really HTML
    for r in (declared, sniffed):
        assert r.n_html_parts == 1 and r.n_text_parts == 0
        assert r.html_text == "Buy now & save!"
        assert r.n_html_tags == 5  # html body p b script


def test_attached_message_rfc822_text_is_read():
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("forwarded words here")
    outer = EmailMessage()
    outer["Subject"] = "Fwd: inner"
    outer.set_content("see below")
    outer.add_attachment(inner)
    r = parse_raw(outer.as_bytes())
    assert "see below" in r.text


def test_mbox_from_line_is_not_a_header():
    raw = b"From someone@example.com Mon Sep  2 12:00:00 2002\nSubject: hi\n\nbody\n"
    assert parse_raw(raw).subject == "hi"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"  \r\n ", "empty"),
        (12, "bytes or str"),
        (b"x" * (MAX_RAW_BYTES + 1), "limit"),
    ],
)
def test_invalid_input_is_refused_clearly(raw, message):
    with pytest.raises(InvalidEmailError, match=message):
        parse_raw(raw)


def test_parse_fields_rejects_wrong_types():
    with pytest.raises(InvalidEmailError, match="body must be a string"):
        parse_fields(email_id="x", body=b"bytes")  # type: ignore[arg-type]


def test_decode_header_text_collapses_folding():
    assert decode_header_text("a\r\n\tfolded   header") == "a folded header"


# ------------------------------------------------------------------ fields <-> raw
FIELD_CASES = [
    {
        "subject": "Meeting notes",
        "body": "Agenda:\n1. budget\n2. hiring\n",
        "sender": "Bob Smith <bob@corp.example>",
        "date": "Wed, 04 Sep 2002 09:00:00 -0400",
    },
    {
        "subject": "WIN $$$ NOW!!!",
        "body": "Click http://198.51.100.7/win to claim your PRIZE!!!",
        "sender": "winner@lottery.example",
        "date": None,
    },
    {
        "subject": "Ünïcödé — ça va?",
        "body": "Grüße, naïve café, 日本語のテキスト " * 40,
        "sender": "Zoë <zoe@example.de>",
        "date": "2024-05-01T12:30:00+02:00",
    },
    {
        "subject": "html",
        "body": "<html><body><a href='http://x.example/a'>click here</a></body></html>",
        "sender": "",
        "date": "garbage date",
    },
    {
        "subject": "",
        "body": "a line that is much longer than seventy-eight characters " * 10,
        "sender": "=?utf-8?q?Caf=C3=A9?= <cafe@example.com>",
        "date": None,
    },
]


def _raw_from_fields(case: dict) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = case["subject"]
    if case["sender"]:
        msg["From"] = case["sender"]
    if case["date"]:
        try:  # a raw message carries its date in RFC 2822 form
            msg["Date"] = format_datetime(datetime.fromisoformat(case["date"]))
        except ValueError:
            msg["Date"] = case["date"]
    msg.set_content(case["body"])
    return msg.as_bytes()


@pytest.mark.parametrize("case", FIELD_CASES, ids=range(len(FIELD_CASES)))
def test_fields_and_raw_give_the_same_record(case):
    from_fields = parse_fields(email_id="e1", **case)
    from_raw = parse_raw(_raw_from_fields(case), email_id="e1")
    assert from_fields == from_raw
