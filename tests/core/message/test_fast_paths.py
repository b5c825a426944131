"""The parsing fast paths give exactly what the plain standard-library / regex forms give.

* ``_message_from_bytes`` (headers parsed alone, single-part payload sliced) against
  ``email.message_from_bytes``;
* ``attribute_urls`` (found from the ``=`` side) against ``_ATTR_URL_RE.findall``;
* the spelled-out ``_TEXT_URL_RE`` and the narrower ``_SPACES_RE`` against the
  ``re.IGNORECASE`` / ``[...]+`` patterns they replace.

On every message of the corpus and on edge cases built here.
"""

from __future__ import annotations

import email
import random
import re
import sys

import pytest

from spam_core.message import headers as headers_module
from spam_core.message import html
from spam_core.message import parse as parse_module

OLD_TEXT_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
OLD_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0]+")


def _same_message(fast: email.message.Message, slow: email.message.Message) -> None:
    assert fast.items() == slow.items()
    assert fast.get_content_type() == slow.get_content_type()
    assert fast.is_multipart() == slow.is_multipart()
    if slow.is_multipart():
        assert len(fast.get_payload()) == len(slow.get_payload())
        for a, b in zip(fast.get_payload(), slow.get_payload(), strict=True):
            _same_message(a, b)
    else:
        assert fast.get_payload() == slow.get_payload()
        assert fast.get_payload(decode=True) == slow.get_payload(decode=True)


EDGE_MESSAGES = [
    b"Subject: hi\n\nbody\n",
    b"Subject: hi\r\nFrom: a@b.example\r\n\r\nline one\r\nline two",
    b"Subject: old mac\rFrom: a@b.example\r\rbody\rmore\r",
    b"Subject: mixed\r\n\nbody\r\rx\n",
    b"Subject: only headers\nFrom: a@b.example\n",
    b"Subject: no newline at all",
    b"",
    b"\n\nbody after an empty header block\n",
    b"Subject: x\nthis line is not a header\nnor this\n",
    b"Subject: folded\n value\n\tmore\nFrom: a@b.example\n\nbody\n",
    b"Subject: blank-ish\n \nX: y\n\nbody\n",
    b"From nobody Mon Sep 2 00:00:00 2002\nSubject: mbox\n\nbody\n",
    b"Content-Type: text/html; charset=utf-8\nSubject: h\n\n<p>Hi <a href='http://x.example'>x</a>\n",
    b"Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n",
    b"Content-Type: MULTIPART/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
    b"plain\n--b\nContent-Type: text/html\n\n<b>html</b>\n--b--\n",
    b"Content-Type: multipart/mixed\n\nno boundary parameter\n",
    b"Content-Transfer-Encoding: base64\nSubject: b64\n\naGVsbG8gd29ybGQ=\n",
    b"Subject: =?utf-8?b?w6TDtsO8?=\nContent-Type: text/plain; charset=latin-1\n\n\xe4\xf6\xfc\n",
    b"Subject: long\n\n" + b"x" * 20000 + b"\n" + b"y\r\n" * 5000,
]


@pytest.mark.parametrize("raw", EDGE_MESSAGES, ids=range(len(EDGE_MESSAGES)))
def test_message_fast_path_edge_cases(raw: bytes) -> None:
    _same_message(headers_module._message_from_bytes(raw), email.message_from_bytes(raw))


def test_message_fast_path_on_the_corpus(corpus_raw: list[bytes]) -> None:
    assert len(corpus_raw) > 5000
    for raw in corpus_raw:
        if raw.startswith(b"From "):  # parse_raw drops the mbox line first, as here
            raw = raw[raw.find(b"\n") + 1 :]
        _same_message(headers_module._message_from_bytes(raw), email.message_from_bytes(raw))


ATTRIBUTE_CASES = [
    "",
    '<a href="http://a.example/x">',
    "<A HREF = 'HTTPS://A.example' SRC=www.b.example ACTION=\"http://c.example\">",
    "<a href=http://a.example/?next=http://b.example src=http://c.example>",
    "<a href=http://a.example/?src=http://b.example>",
    "<a xhref=http://a.example>",  # the pattern has no word boundary: a match
    "<a href\t\n =\n 'www.a.example'>",
    "<a href = = http://no.example>",
    "<a href=ftp://no.example href=http://yes.example>",
    "href=http://start.example",
    "<img \u017frc=http://long-s.example>",  # re.IGNORECASE: U+017F matches "s"
    "<form actİon=http://dotted-i.example actıon=http://dotless-i.example>",
    "<a href\u2003=\u3000http://unicode-space.example>",
    "src=http://a.examplesrc=http://b.example",
    "action=action=http://twice.example",
    "<a href='http://x.example' href='http://x.example'>" * 50,
]


@pytest.mark.parametrize("markup", ATTRIBUTE_CASES, ids=range(len(ATTRIBUTE_CASES)))
def test_attribute_urls_edge_cases(markup: str) -> None:
    assert html.attribute_urls(markup) == html._ATTR_URL_RE.findall(markup)


def test_attribute_urls_fuzz() -> None:
    rng = random.Random(7)
    pieces = [
        "href",
        "HREF",
        "src",
        "Src",
        "action",
        "=",
        " ",
        "\t",
        "\n",
        '"',
        "'",
        "http://",
        "HTTPS://",
        "www.",
        "x",
        ">",
        "<a ",
        "?q=",
        "\u017f",
        "\xa0",
    ]
    for _ in range(20000):
        markup = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        assert html.attribute_urls(markup) == html._ATTR_URL_RE.findall(markup), markup


def test_attribute_urls_and_text_urls_on_the_corpus(corpus_raw: list[bytes]) -> None:
    checked = 0
    for raw in corpus_raw:
        for part in email.message_from_bytes(raw).walk():
            if part.get_content_maintype() != "text":
                continue
            data = part.get_payload(decode=True)
            if not data:
                continue
            text = data.decode("latin-1")
            assert html.attribute_urls(text) == html._ATTR_URL_RE.findall(text)
            assert parse_module._TEXT_URL_RE.findall(text) == OLD_TEXT_URL_RE.findall(text)
            assert html._SPACES_RE.sub(" ", text) == OLD_SPACES_RE.sub(" ", text)
            checked += 1
    assert checked > 5000


def test_isspace_is_the_regex_whitespace_class() -> None:
    """``attribute_urls`` walks back over ``\\s`` with ``str.isspace``."""
    space = re.compile(r"\s")
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert ch.isspace() == bool(space.match(ch)), hex(code)


def test_spelled_out_url_letters_fold_like_ignorecase() -> None:
    """``[Hh][Tt][Tt][Pp][Ss\\u017f]`` / ``[Ww]`` are exactly what ``re.IGNORECASE`` folds."""
    letters = {c: re.compile(c, re.IGNORECASE) for c in "htpsw"}
    folded = {c: set() for c in letters}
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        for c, pattern in letters.items():
            if pattern.fullmatch(ch):
                folded[c].add(ch)
    assert folded == {
        "h": {"h", "H"},
        "t": {"t", "T"},
        "p": {"p", "P"},
        "s": {"s", "S", "\u017f"},
        "w": {"w", "W"},
    }


def test_text_urls_and_spaces_fuzz() -> None:
    rng = random.Random(11)
    pieces = ["http", "HTTPS", "://", "www.", "WwW.", "\u017f", "a", " ", "  ", "\t", "\xa0"]
    pieces += ["\r", "\f", "\v", "\n", "<", ">", "(", ")", "x.example", "/"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        assert parse_module._TEXT_URL_RE.findall(text) == OLD_TEXT_URL_RE.findall(text), text
        assert html._SPACES_RE.sub(" ", text) == OLD_SPACES_RE.sub(" ", text), text
