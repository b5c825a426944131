"""The fast feature and parsing paths give exactly what their straightforward forms give.

Each fast path is run side by side with a plain reference (the regular expression, the
standard-library call or the earlier implementation that it replaces, written out here) on
tricky inputs, on fuzzed inputs and on the corpus, and the results must be equal (floats
bit for bit). No timing here: ``python -m tests.benchmarks features`` measures speed.

* features: word runs (``text.word_runs``) and the TF-IDF counts read from them, the
  spam-phrase count, the engineered values;
* parsing: the feed-parser port (``message.feed``), ``_message_from_bytes`` (headers
  parsed by regex), ``Content-Type`` charsets, sender addresses, dates, indexed
  header look-ups.
"""

from __future__ import annotations

import email
import email.feedparser
import email.header
import email.message
import email.parser
import email.utils
import math
import random
import re
import sys
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from spam_core.features import engineered, text
from spam_core.features.engineered import SPAM_PHRASES, engineered_features, spam_phrase_count
from spam_core.features.text import document_text, word_runs
from spam_core.features.tfidf import WORD_RUN_TOKEN_PATTERNS, TfidfTransform
from spam_core.message import decoding as decoding_module
from spam_core.message import feed
from spam_core.message import headers as headers_module
from spam_core.message import parse as parse_module
from spam_core.message.parse import parse_fields, parse_raw
from spam_core.message.record import EmailRecord

PLATFORM_TOKEN_PATTERN = r"(?u)\b[^\W\d_]\w+\b"
WORD_RE = re.compile(r"\w+")

TRICKY_TEXTS = [
    "",
    " ",
    "a",
    "Hello, World! HELLO world hello_world hello2 2hello _hello __ x_ 42 4x2",
    "naïve café Straße İstanbul ǅemal ﬁne µ K ſtraße ΣΊΣΥΦΟΣ 日本語の単語 ﾃｽﾄ",
    "don't we\u2019ve e-mail x\u00a0y x\u3000y x\u200by x\u2028y x\u0085y a\u0301b",
    "&amp; &nbsp; &#65; &#x263a; &copy &unknown; &lt;b&gt; <b>bold</b> <br> <!-- c -->",
    "http://1.2.3.4/x https://a.b/c?d=e HTTP://UP.CASE www.example.com/path WwW.x.y",
    "100% free 100%free 100 % free 100%  free fast cash cash fast  cash act now actnow",
    "FREE ACCESS free access free accessory freeaccess free_access free-access",
    "make money make money make moneymake money remove removed unsubscribe unsubscribed",
    "you have been selected you have been  selected you have been selectedx",
    "cash\ncash\tcash\rcash\x0bcash\x0ccash\x1ccash\u2028cash\xa0cash\u3000cash",
    "éremove removeé remove_ _remove 9remove remove9 ŉremove remove² ²remove",
    "\udce9 surrogate\udcff escapes \udc80remove\udc80 cash",
    "x" * 5000 + " remove " + "y" * 5000,
    " ".join(["é"] * 100) + " remove cash é" * 30,  # many non-ASCII runs: the regex split
    "The Quick Brown Fox\n\n\nJumps over the lazy dog 0123 $5 £5 €5 ¥5 !!! ???",
]


@pytest.fixture(scope="module")
def corpus_parsed(corpus_raw: list[bytes]) -> list[EmailRecord]:
    return [parse_raw(raw) for raw in corpus_raw]


@pytest.fixture(scope="module")
def corpus_docs(corpus_parsed: list[EmailRecord]) -> list[str]:
    return [document_text(r).lower() for r in corpus_parsed]


def _fuzz_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    pieces = [w for t in TRICKY_TEXTS[:15] for w in re.split(r"(\s+)", t) if w] + list(SPAM_PHRASES)
    pieces += [" ", "  ", "\n", "_", "-", "%", "é", "\u2019", "x", "9", "\x80", "\udce9", ".", ","]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(n)]


# --------------------------------------------------------------------------- characters
def test_word_character_is_isalnum_or_underscore() -> None:
    """Word runs and the phrase boundaries use ``isalnum() or == "_"`` for ``re``'s ``\\w``."""
    word = re.compile(r"\w")
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert bool(word.match(ch)) == (ch.isalnum() or ch == "_"), hex(code)


def test_only_ascii_letters_lower_case_to_the_letters_of_charset() -> None:
    """``_content_charset`` answers ``None`` when "charset" is not in the lower-cased value."""
    for code in range(128, sys.maxunicode + 1):
        lowered = chr(code).lower()
        assert not (len(lowered) == 1 and lowered in "charset"), hex(code)


# --------------------------------------------------------------------------- word runs
def _reference_runs(doc: str) -> list[str]:
    return WORD_RE.findall(doc)


def test_word_runs_keep_every_ascii_run() -> None:
    """What counting vocabulary terms needs: the ASCII runs of ``\\w+``, in order, and no
    other ASCII run (a run holding a non-ASCII character comes out holding one too)."""
    for doc in TRICKY_TEXTS + _fuzz_texts(1, 2000):
        for candidate in (doc, doc.lower()):
            expected = [w.encode("ascii") for w in _reference_runs(candidate) if w.isascii()]
            got = text._split_word_runs(candidate)
            assert [run for run in got if run.isascii()] == expected, candidate
            assert len(got) <= len(_reference_runs(candidate))


def test_word_runs_memo_is_keyed_by_the_string_object() -> None:
    first = "remove cash " * 3
    second = "".join(["remove cash "] * 3)  # equal text, another object
    assert first == second and first is not second
    runs = word_runs(first)
    assert word_runs(first) is runs
    assert word_runs(second) == runs
    assert word_runs("other words") == [b"other", b"words"]


# --------------------------------------------------------------------------- TF-IDF
def _vocabulary(docs: list[str], pattern: str, size: int = 500) -> list[str]:
    counts = Counter(t for d in docs for t in re.findall(pattern, d))
    return [t for t, _ in counts.most_common(size)]


def _reference_counts(doc: str, vocabulary: list[str], pattern: str) -> list[tuple[int, int]]:
    index = {t: j for j, t in enumerate(vocabulary)}
    counts = Counter(re.findall(pattern, doc))
    return sorted((index[t], n) for t, n in counts.items() if t in index)


def _transform(vocabulary: list[str], pattern: str, **kwargs) -> TfidfTransform:
    idf = [1.0 + (j % 17) / 7.0 for j in range(len(vocabulary))]
    return TfidfTransform(vocabulary, idf, pattern, **kwargs)


@pytest.mark.parametrize("pattern", sorted(WORD_RUN_TOKEN_PATTERNS))
def test_tfidf_counts_from_word_runs_are_the_token_counts(pattern: str) -> None:
    docs = [d.lower() for d in TRICKY_TEXTS + _fuzz_texts(2, 400)]
    vocabulary = [t for t in _vocabulary(docs, pattern) if t.isascii()]
    vocabulary += ["remove", "cash", "free", "hello_world", "x_", "hello2"]
    vocabulary = list(dict.fromkeys(t for t in vocabulary if re.fullmatch(pattern, t)))
    transform = _transform(vocabulary, pattern)
    assert transform._run_index is not None  # the fast path is the one tested
    for doc in docs:
        assert transform._counts(doc) == _reference_counts(doc, vocabulary, pattern), doc


def test_tfidf_falls_back_to_the_regex_when_word_runs_do_not_apply() -> None:
    docs = [d.lower() for d in TRICKY_TEXTS]
    non_ascii = _transform(["naïve", "café", "remove"], PLATFORM_TOKEN_PATTERN)
    other_pattern = _transform(["re", "remove"], r"(?u)\b\w+\b")
    ascii_flag = _transform(["remove"], r"(?a)\b[^\W\d_]\w+\b")
    for transform in (non_ascii, other_pattern, ascii_flag):
        assert transform._run_index is None
        for doc in docs:
            assert transform._counts(doc) == transform._counts_regex(doc)


@pytest.mark.parametrize(("sublinear_tf", "norm"), [(True, "l2"), (False, "l2"), (True, None)])
def test_tfidf_vectors_are_bit_identical_to_the_regex_path(sublinear_tf, norm) -> None:
    docs = [d.lower() for d in TRICKY_TEXTS + _fuzz_texts(3, 200)]
    vocabulary = _vocabulary(docs, PLATFORM_TOKEN_PATTERN, 300)
    vocabulary = [t for t in vocabulary if t.isascii()]
    fast = _transform(vocabulary, PLATFORM_TOKEN_PATTERN, sublinear_tf=sublinear_tf, norm=norm)
    slow = _transform(vocabulary, PLATFORM_TOKEN_PATTERN, sublinear_tf=sublinear_tf, norm=norm)
    slow._run_index = None
    assert fast._run_index is not None
    for batch in (False, True):
        outs = []
        for t in (fast, slow):
            out = np.zeros((len(docs), len(vocabulary)))
            if batch:
                t.transform_batch(docs, out)
            else:
                for i, d in enumerate(docs):
                    t.transform_one(d, out[i])
            outs.append(out)
        assert outs[0].tobytes() == outs[1].tobytes()


def test_tfidf_counts_on_the_corpus(corpus_docs: list[str]) -> None:
    vocabulary = [t for t in _vocabulary(corpus_docs[::3], PLATFORM_TOKEN_PATTERN) if t.isascii()]
    transform = _transform(vocabulary, PLATFORM_TOKEN_PATTERN)
    assert transform._run_index is not None
    for doc in corpus_docs:
        assert transform._counts(doc) == transform._counts_regex(doc)


# --------------------------------------------------------------------------- spam phrases
FLAT_PHRASE_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(SPAM_PHRASES, key=len, reverse=True)) + r")\b"
)
"""An independent reference: a flat alternation tried longest first finds at each position
what the trie pattern finds (the longest phrase followed by a word boundary)."""


def _reference_phrase_count(doc: str) -> int:
    count = len(engineered._SPAM_PHRASE_RE.findall(doc))
    assert count == len(FLAT_PHRASE_RE.findall(doc))
    return count


def test_spam_phrase_count_is_the_regex_count() -> None:
    for doc in TRICKY_TEXTS + _fuzz_texts(4, 3000):
        for candidate in (doc, doc.lower()):
            assert spam_phrase_count(candidate) == _reference_phrase_count(candidate), candidate


def test_spam_phrase_count_on_overlapping_phrases() -> None:
    rng = random.Random(5)
    words = [
        "fast",
        "cash",
        "free",
        "access",
        "gift",
        "100%",
        "no",
        "cost",
        "fees",
        "act",
        "now",
        "money",
        "back",
        "make",
        "order",
        "you",
        "have",
        "been",
        "selected",
        "remove",
        "x",
    ]
    seps = [" ", " ", "  ", "", "-", "_", "\n", "é", "%", ". "]
    for _ in range(5000):
        doc = "".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(1, 12)))
        assert spam_phrase_count(doc) == _reference_phrase_count(doc), doc


def test_spam_phrase_count_on_the_corpus(corpus_docs: list[str]) -> None:
    for doc in corpus_docs:
        assert spam_phrase_count(doc) == _reference_phrase_count(doc)


# --------------------------------------------------------------------------- engineered values
_ASCII_UPPER = bytes(range(65, 91))
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ALL = bytes(range(256))
_NOT_UPPER = bytes(b for b in _ALL if b not in _ASCII_UPPER)
_NOT_LETTER = bytes(b for b in _ALL if b not in _ASCII_LETTERS)
_NOT_DIGIT = bytes(b for b in _ALL if b not in b"0123456789")


def _reference_engineered(record: EmailRecord) -> list[float]:
    """The engineered values as first written (plain regex and str calls)."""

    def count(data: bytes, delete: bytes) -> int:
        return len(data.translate(None, delete))

    def ratio(num: int, den: int) -> float:
        return num / den if den else 0.0

    body, subject = record.body, record.subject
    lowered_doc = document_text(record).lower()
    body_ascii = body.encode("ascii", "ignore")
    subj_ascii = subject.encode("ascii", "ignore")
    n_chars = len(body)
    n_nonspace = len(body_ascii.translate(None, b" \t\n\r\x0b\x0c")) + (len(body) - len(body_ascii))
    both_len = len(subject) + n_chars
    n_ascii = len(body_ascii) + len(subj_ascii)
    hosts = []
    for url in record.urls:
        m = engineered._URL_HOST_RE.match(url)
        if m:
            hosts.append(m.group(1).lower().rstrip("."))
    sender_local = record.sender_address.split("@", 1)[0] if record.sender_address else ""
    has_text = any(c not in " \n\t" for c in record.text[:64]) if record.text else False
    date = record.date
    return [
        math.log1p(n_chars),
        ratio(count(body_ascii, _NOT_UPPER), count(body_ascii, _NOT_LETTER)),
        ratio(count(body_ascii, _NOT_DIGIT), n_nonspace),
        ratio(both_len - n_ascii, both_len),
        math.log1p(subject.count("!") + body.count("!")),
        math.log1p(sum(subject.count(s) + body.count(s) for s in ("$", "£", "€", "¥"))),
        math.log1p(len(record.urls)),
        math.log1p(len(set(hosts))),
        1.0 if any(engineered._IPV4_RE.match(h) for h in hosts) else 0.0,
        1.0 if record.n_html_parts else 0.0,
        1.0 if record.n_html_parts and not has_text else 0.0,
        math.log1p(record.n_html_tags),
        math.log1p(record.n_attachments),
        math.log1p(record.n_parts),
        math.log1p(len(subject)),
        ratio(count(subj_ascii, _NOT_UPPER), count(subj_ascii, _NOT_LETTER)),
        1.0 if engineered._REPLY_RE.match(subject) else 0.0,
        0.0 if record.sender_address else 1.0,
        1.0 if record.sender_name else 0.0,
        ratio(count(sender_local.encode("ascii", "ignore"), _NOT_DIGIT), len(sender_local)),
        1.0 if record.sender_domain in engineered.FREEMAIL_DOMAINS else 0.0,
        0.0 if date is not None else 1.0,
        float(date.hour) if date is not None else -1.0,
        math.log1p(len(engineered._SPAM_PHRASE_RE.findall(lowered_doc))),
    ]


def _tricky_records() -> list[EmailRecord]:
    records = []
    for i, body in enumerate(TRICKY_TEXTS + _fuzz_texts(6, 100)):
        subject = TRICKY_TEXTS[i % len(TRICKY_TEXTS)][:80]
        records.append(
            EmailRecord(
                email_id=f"t{i}",
                subject=subject,
                sender="x",
                sender_name="Name" if i % 2 else "",
                sender_address=["", "a1b2@gmail.com", "12345@x.example", "é@x"][i % 4],
                sender_domain=["", "gmail.com", "x.example"][i % 3],
                date=None if i % 3 == 0 else datetime(2002, 10, 1, i % 24, tzinfo=UTC),
                text=body if i % 4 else "",
                html_text=body[::-1] if i % 3 else "",
                urls=("http://1.2.3.4/x", "https://A.Example./p", "www.x.y", "mailto:x")[: i % 5],
                n_parts=i % 3,
                n_text_parts=i % 2,
                n_html_parts=i % 2,
                n_attachments=i % 4,
                n_html_tags=i,
            )
        )
    records.append(parse_fields(email_id="empty"))
    records.append(parse_fields(email_id="html", subject="RE: x", body="<p>  \n<b>CASH</b> now"))
    return records


@pytest.mark.parametrize("lowered", [True, False])
def test_engineered_values_are_the_reference_values(lowered: bool) -> None:
    for record in _tricky_records():
        doc = document_text(record).lower() if lowered else None
        assert engineered_features(record, doc) == _reference_engineered(record), record.email_id


def test_engineered_values_on_the_corpus(corpus_parsed: list[EmailRecord]) -> None:
    for record in corpus_parsed:
        assert engineered_features(record) == _reference_engineered(record)


# --------------------------------------------------------------------------- message trees
def _tree(message: email.message.Message) -> list:
    """Everything a parsed message holds, but the parser's defects."""
    out = [
        message._headers,
        message._unixfrom,
        message._default_type,
        message.preamble,
        message.epilogue,
        message._charset,
    ]
    if isinstance(message._payload, list):
        out.append([_tree(part) for part in message._payload])
    else:
        out.append(message._payload)
    return out


def _fuzz_message(rng: random.Random, depth: int = 0, outer: tuple[str, ...] = ()) -> str:
    """A random message: nested multiparts, digests, message/rfc822, delivery-status,
    odd boundaries, repeated or missing boundary lines, mixed line breaks."""

    def nl() -> str:
        return rng.choice(["\n", "\n", "\n", "\r\n", "\r\n", "\r", ""])

    headers = [
        rng.choice(["Subject: s", "X: y", " cont", "From x", ":bad", "From: a@b", "X-B:\t v"])
        for _ in range(rng.randint(0, 3))
    ]
    kind = rng.random()
    boundary = None
    if kind < 0.45 and depth < 4:
        boundary = rng.choice(["b", "B1", "=_x.y", "a:b", "q?*+", "", " sp ", "--", "x--", "b\t"])
        sub = rng.choice(["mixed", "alternative", "digest", "related"])
        quote = rng.choice(['"', ""])
        headers.insert(
            rng.randint(0, len(headers)),
            f"Content-Type: multipart/{sub}; boundary={quote}{boundary}{quote}"
            if rng.random() < 0.9
            else f"Content-Type: multipart/{sub}",
        )
    elif kind < 0.55 and depth < 4:
        headers.append(
            rng.choice(["Content-Type: message/rfc822", "Content-Type: message/delivery-status"])
        )
    elif kind < 0.8:
        headers.append(rng.choice(["Content-Type: text/plain", "Content-Type: text/html"]))
    out = "".join(h + nl() for h in headers)
    out += rng.choice(["\n", "\r\n", "\r", "", "not a header\n"])
    joined = " ".join(headers)
    if boundary is not None and "boundary=" in joined:
        sep = "--" + boundary.strip()
        for _ in range(rng.randint(0, 2)):
            out += rng.choice(["preamble", "", "--nope", sep + "x"]) + nl()
        for _ in range(rng.randint(0, 3)):
            out += sep + rng.choice(["", " ", "\t", "--"]) * rng.randint(0, 1) + nl()
            if rng.random() < 0.2:
                out += sep + nl()
            out += _fuzz_message(rng, depth + 1, (*outer, sep))
            if rng.random() < 0.1 and outer:
                out += rng.choice(outer) + nl()
        if rng.random() < 0.8:
            out += sep + "--" + rng.choice(["", " "]) + nl()
        for _ in range(rng.randint(0, 2)):
            out += rng.choice(["epilogue", "", "\n"]) + nl()
    elif "delivery-status" in joined:
        for _ in range(rng.randint(0, 3)):
            lines = ["Action: failed", "Status: 5.0.0", " cont", "x"]
            out += "".join(rng.choice(lines) + nl() for _ in range(rng.randint(0, 2)))
            out += rng.choice(["\n", "\r\n", ""])
    elif "message/" in joined:
        out += _fuzz_message(rng, depth + 1, outer)
    else:
        lines = ["body line", "", "-- sig", "--", "<p>x</p>", "\t", "From y", *outer]
        for _ in range(rng.randint(0, 4)):
            out += rng.choice(lines) + nl()
    return out


def _reference_message_from_bytes(data: bytes) -> email.message.Message:
    """The earlier ``_message_from_bytes``: the feed parser on the header block alone, the
    rest as the payload; multipart and message/* parsed whole by the feed parser."""
    line_re = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
    parser = email.parser.Parser()
    text = data.decode("ascii", "surrogateescape")
    end = len(text)
    header_end = body_start = end
    pos = 0
    while pos < end:
        line = line_re.match(text, pos)
        if not email.feedparser.headerRE.match(line.group()):
            header_end = pos
            body_start = line.end() if email.feedparser.NLCRE.match(line.group()) else pos
            break
        pos = line.end()
    message = parser.parsestr(text[:header_end])
    if message.get_content_maintype() in ("multipart", "message"):
        return parser.parsestr(text)
    message.set_payload(text[body_start:])
    return message


def test_feed_port_builds_the_feed_parser_tree_fuzz() -> None:
    rng = random.Random(8)
    for _ in range(4000):
        source = _fuzz_message(rng)
        assert _tree(feed.parse_text(source)) == _tree(email.parser.Parser().parsestr(source))


def test_message_from_bytes_is_the_reference_fuzz() -> None:
    rng = random.Random(9)
    for _ in range(4000):
        raw = _fuzz_message(rng).encode("ascii", "surrogateescape")
        fast = headers_module._message_from_bytes(raw)
        assert _tree(fast) == _tree(_reference_message_from_bytes(raw)), raw


def test_header_blocks_are_parsed_as_the_feed_parser_parses_them() -> None:
    rng = random.Random(10)
    lines = [
        "Subject: x", "X-A:", "X-B:  y ", " cont", "\tcont", "  ", "\t", "From x", "From: a@b",
        ":bad", "", "body", "Received: from a\tby b", "Content-Type: text/html; charset=utf-8",
        "x:y:z", "X:\x0bv", "X: \x0c", "N\x1c: v", "X-\udce9: \udce9", "ABC", " :", "Fro",
    ]  # fmt: skip
    breaks = ["\n", "\n", "\r\n", "\r", "", "\n\n", "\r\n\r\n"]
    for _ in range(20000):
        source = "".join(rng.choice(lines) + rng.choice(breaks) for _ in range(rng.randint(0, 12)))
        raw = source.encode("ascii", "surrogateescape")
        fast = headers_module._message_from_bytes(raw)
        assert _tree(fast) == _tree(_reference_message_from_bytes(raw)), raw


def test_feed_port_and_message_from_bytes_on_the_corpus(corpus_raw: list[bytes]) -> None:
    for raw in corpus_raw:
        for data in (raw, raw[raw.find(b"\n") + 1 :]):
            source = data.decode("ascii", "surrogateescape")
            assert _tree(feed.parse_text(source)) == _tree(email.parser.Parser().parsestr(source))
            fast = headers_module._message_from_bytes(data)
            assert _tree(fast) == _tree(_reference_message_from_bytes(data))


def test_split_lines_breaks_where_the_feed_parser_does() -> None:
    for source in [
        "",
        "a",
        "a\n",
        "a\r\nb\rc\nd",
        "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\n",
    ]:
        assert feed.split_lines(source) == re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", source)


def test_indexed_header_lookups_follow_changes() -> None:
    message = headers_module._Message()
    reference = email.message.Message()
    for m in (message, reference):
        m["Content-Type"] = "text/plain"
        m["X-A"] = "1"
        m["x-a"] = "2"

    def same() -> None:
        for name in ("content-type", "X-A", "x-a", "X-B", "nope"):
            assert message.get(name) == reference.get(name)
            assert message.get(name, "missing") == reference.get(name, "missing")
            assert (name in message) == (name in reference)
        assert message.get_content_type() == reference.get_content_type()
        assert message.get_content_charset() == reference.get_content_charset()

    same()
    for m in (message, reference):
        del m["x-a"]
        m["X-B"] = "3"
        m.set_param("charset", "utf-8")
        m.replace_header("X-B", "4")
    same()
    for m in (message, reference):
        m.set_raw("X-A", "5")
        m.set_type("multipart/mixed")
        m.set_boundary("bb")
    same()


# --------------------------------------------------------------------------- header values
def _charset_as_walk_reads_it(read, message):
    try:
        return read(message)
    except (ValueError, TypeError, LookupError, AttributeError):  # what _walk turns into None
        return None


def test_content_charset_is_get_content_charset() -> None:
    rng = random.Random(11)
    pieces = [
        "text/plain", "TEXT/Plain", "a/b/c", ";", " ", "\t", "\n ", "charset", "CharSet",
        "charſet", "char\u212aet", "=", '"', "'", "utf-8", "US-ASCII", "x", "format=flowed",
        "charset*=utf-8''abc", "charset*0=a", "charset*1=b", "\\", "\u0130", "name=a.txt", "",
    ]  # fmt: skip
    for _ in range(30000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        message = email.message.Message()
        message["Content-Type"] = value
        fast = _charset_as_walk_reads_it(parse_module._content_charset, message)
        assert fast == _charset_as_walk_reads_it(email.message.Message.get_content_charset, message)
    message = email.message.Message()
    assert parse_module._content_charset(message) is None
    message["Content-Type"] = email.header.Header("text/plain; charset=\udce9", "unknown-8bit")
    assert parse_module._content_charset(message) == message.get_content_charset()


def test_parseaddr_fast_forms_are_parseaddr() -> None:
    rng = random.Random(12)
    local, domain = "abcXYZ019._%+-", "abcXYZ019.-"
    odd = ["", "@", "<", ">", '"', "\\", "(", ")", ",", ":", ";", "[", "]", " ", "é", ".", "'"]
    names = ["John", "Q.", "O'Brien", "Jérôme", "J.R.R.", "x", "Mc-Do", "日本", "=?x?=", "a/b"]

    def word(chars: str, lo: int, hi: int) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))

    def perturb(value: str) -> str:
        if rng.random() < 0.3:
            i = rng.randint(0, len(value))
            value = value[:i] + rng.choice(odd) + value[i:]
        return value

    for _ in range(30000):
        addr = perturb(word(local, 0, 6) + "@" + word(domain, 0, 8))
        name = " ".join(rng.choice(names) for _ in range(rng.randint(0, 3)))
        value = rng.choice(
            [
                addr,
                f"{name}{rng.choice([' ', ''])}<{addr}>",
                f'"{perturb(name)}"{rng.choice([" ", ""])}<{addr}>',
                f"{addr} ({perturb(name)})",
            ]
        )
        value = decoding_module.decode_header_text(perturb(value))
        assert decoding_module._parseaddr(value) == email.utils.parseaddr(value), value


def test_rfc_dates_are_parsedate_to_datetime() -> None:
    rng = random.Random(13)

    def num(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    def outcome(parse, value):
        try:
            parsed = parse(value)
        except Exception as exc:  # the exception type is what is compared
            return type(exc)
        return parsed, parsed.tzinfo, parsed.utcoffset()

    for _ in range(30000):
        value = " ".join(
            [
                rng.choice(["Mon,", "Tue,", "", "Tue", "Xyz,", "tue,"]),
                rng.choice([num(1), num(2), "31", "29", "0"]),
                rng.choice(["Jan", "Feb", "Oct", "oct", "October", "Xxx"]),
                rng.choice([num(4), "2002", "0099", "99", num(3)]),
                rng.choice([f"{num(2)}:{num(2)}:{num(2)}", "10:00", "24:00:00", "23:59:60"]),
                rng.choice(["+0000", "-0000", "+0200", "-0700", "+2400", "-9999", "GMT", "+02"]),
                rng.choice(["", "(PDT)", "x y"]),
            ]
        )
        if rng.random() < 0.2:
            i = rng.randint(0, len(value))
            value = value[:i] + rng.choice([" ", ",", ":", "-", "+", "x", "١"]) + value[i:]
        value = decoding_module.decode_header_text(value)
        fast = outcome(decoding_module._parsedate_to_datetime, value)
        assert fast == outcome(email.utils.parsedate_to_datetime, value), value


def test_header_values_on_the_corpus(corpus_raw: list[bytes]) -> None:
    checked = 0
    for raw in corpus_raw:
        message = email.message_from_bytes(raw)
        sender = decoding_module.decode_header_text(message.get("From"))
        assert decoding_module._parseaddr(sender) == email.utils.parseaddr(sender)
        date = decoding_module.decode_header_text(message.get("Date"))
        if date:
            try:
                expected = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError, IndexError, OverflowError) as exc:
                with pytest.raises(type(exc)):
                    decoding_module._parsedate_to_datetime(date)
            else:
                assert decoding_module._parsedate_to_datetime(date) == expected
        for part in message.walk():
            fast = _charset_as_walk_reads_it(parse_module._content_charset, part)
            assert fast == _charset_as_walk_reads_it(
                email.message.Message.get_content_charset, part
            )
            checked += 1
    assert checked > 5000
