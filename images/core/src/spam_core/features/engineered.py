"""The 24 engineered features of one record (order: ``spec.ENGINEERED``).

Pure functions of :class:`EmailRecord`; no fitted state. Character classes are counted
with ``bytes.translate`` (C speed) rather than per-character Python loops.
"""

from __future__ import annotations

import math
import re

from spam_core.features.spec import ENGINEERED_NAMES
from spam_core.features.text import document_text, word_runs
from spam_core.message.record import EmailRecord

_ASCII_UPPER = bytes(range(65, 91))
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_DIGITS = b"0123456789"
_ALL = bytes(range(256))
_NOT_UPPER = bytes(b for b in _ALL if b not in _ASCII_UPPER)
_NOT_LETTER = bytes(b for b in _ALL if b not in _ASCII_LETTERS)
_NOT_DIGIT = bytes(b for b in _ALL if b not in _DIGITS)
_WHITESPACE = b" \t\n\r\x0b\x0c"

_REPLY_RE = re.compile(
    r"^(?:\[[^\]]{0,60}\]\s*)?(?:re|fw|fwd|aw|sv|tr)\s*(?:\[\d+\])?\s*:", re.IGNORECASE
)
_URL_HOST_RE = re.compile(r"^(?:https?://)?(?:[^@/?#]*@)?([^/:?#]+)", re.IGNORECASE)
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_MONEY = ("$", "£", "€", "¥")  # "$" first (see _money_count)

FREEMAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "comcast.net",
        "earthlink.net",
        "email.com",
        "excite.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "icloud.com",
        "juno.com",
        "live.com",
        "lycos.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "netscape.net",
        "netzero.net",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "rediffmail.com",
        "usa.net",
        "web.de",
        "yahoo.ca",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.com.au",
        "yahoo.fr",
        "yandex.ru",
        "zoho.com",
    }
)

SPAM_PHRASES = (
    "100% free",
    "act now",
    "additional income",
    "all natural",
    "apply now",
    "as seen on",
    "bank account",
    "be your own boss",
    "best price",
    "big bucks",
    "billion dollars",
    "bonus",
    "buy direct",
    "buy now",
    "call now",
    "cancel at any time",
    "cash",
    "casino",
    "cheap",
    "click below",
    "click here",
    "congratulations",
    "credit card",
    "dear friend",
    "double your",
    "earn money",
    "extra income",
    "fast cash",
    "financial freedom",
    "free access",
    "free gift",
    "free quote",
    "free trial",
    "full refund",
    "get paid",
    "guarantee",
    "home based",
    "increase sales",
    "investment",
    "limited time",
    "lose weight",
    "lottery",
    "lowest price",
    "make money",
    "million dollars",
    "money back",
    "mortgage",
    "no cost",
    "no fees",
    "no obligation",
    "offer expires",
    "once in a lifetime",
    "order now",
    "prize",
    "promise you",
    "refinance",
    "remove",
    "risk free",
    "satisfaction",
    "special promotion",
    "this is not spam",
    "unsubscribe",
    "urgent",
    "viagra",
    "weight loss",
    "winner",
    "work from home",
    "you have been selected",
)


def _trie_pattern(phrases: tuple[str, ...]) -> str:
    """One regex alternation with common prefixes factored out (a trie): Python's ``re``
    tries alternatives one by one, so a flat list of 70 phrases costs 5x more per character."""
    trie: dict = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie)


_SPAM_PHRASE_RE = re.compile(r"\b" + _trie_pattern(SPAM_PHRASES) + r"\b")
"""The definition of the spam-phrase count: ``len(_SPAM_PHRASE_RE.findall(lowered_doc))``.
:func:`spam_phrase_count` computes the same number without running it over every document."""


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # what ``re`` calls \w (and \b looks at) in str patterns


# Every phrase starts and ends with a word character, so a match of ``\b<phrase>\b`` is a
# sequence of whole word runs (its words, joined by the phrase's own non-word characters):
# a phrase can only occur in a document whose word runs include all of its words.
_PHRASE_WORDS_RE = re.compile(r"\w+")
_PHRASES_BY_FIRST_WORD: dict[bytes, list[tuple[str, frozenset[bytes]]]] = {}
for _phrase in SPAM_PHRASES:
    assert _phrase.isascii() and _is_word_char(_phrase[0]) and _is_word_char(_phrase[-1])
    _words = [w.encode("ascii") for w in _PHRASE_WORDS_RE.findall(_phrase)]
    _PHRASES_BY_FIRST_WORD.setdefault(_words[0], []).append((_phrase, frozenset(_words)))
_PHRASE_WORDS = frozenset(w for ps in _PHRASES_BY_FIRST_WORD.values() for _, ws in ps for w in ws)
del _phrase, _words


def spam_phrase_count(lowered_doc: str) -> int:
    r"""``len(_SPAM_PHRASE_RE.findall(lowered_doc))``, found from the document's word runs.

    Only the phrases whose words all occur as word runs can match (usually none or one or
    two); their occurrences are found with ``str.find``, kept when a non-word character or
    the text's end is on both sides (the two ``\b``), and then chosen as ``findall`` chooses
    its matches: from the left, the longest phrase at a position (the trie pattern tries
    longer phrases first and backtracks to shorter ones), none overlapping a previous one.
    """
    present = _PHRASE_WORDS.intersection(word_runs(lowered_doc))
    if not present:
        return 0
    found: list[tuple[int, int]] = []  # (start, -end) of every bounded occurrence
    size = len(lowered_doc)
    for word in present:
        for phrase, words in _PHRASES_BY_FIRST_WORD.get(word, ()):
            if not words <= present:
                continue
            length = len(phrase)
            start = lowered_doc.find(phrase)
            while start >= 0:
                end = start + length
                if (start == 0 or not _is_word_char(lowered_doc[start - 1])) and (
                    end == size or not _is_word_char(lowered_doc[end])
                ):
                    found.append((start, -end))
                start = lowered_doc.find(phrase, start + 1)
    if len(found) < 2:
        return len(found)
    found.sort()  # by start, then longest first
    count, resume = 0, 0
    for start, neg_end in found:
        if start >= resume:
            count += 1
            resume = -neg_end
    return count


def _count(data: bytes, delete: bytes) -> int:
    return len(data.translate(None, delete))


def _money_count(subject: str, body: str) -> int:
    """Currency symbols in subject and body (only "$" can be in ASCII text)."""
    count = subject.count("$") + body.count("$")
    if not (subject.isascii() and body.isascii()):
        count += sum(subject.count(s) + body.count(s) for s in _MONEY[1:])
    return count


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _url_hosts(urls: tuple[str, ...]) -> list[str]:
    hosts = []
    for url in urls:
        m = _URL_HOST_RE.match(url)
        if m:
            hosts.append(m.group(1).lower().rstrip("."))
    return hosts


def engineered_features(record: EmailRecord, lowered_doc: str | None = None) -> list[float]:
    """The 24 engineered values (Python floats, order of ``ENGINEERED_NAMES``).

    ``lowered_doc`` is ``document_text(record).lower()`` when the caller already has it
    (the TF-IDF step does); it is computed otherwise.
    """
    body = record.body
    subject = record.subject
    if lowered_doc is None:
        lowered_doc = document_text(record).lower()
    body_ascii = body.encode("ascii", "ignore")
    subj_ascii = subject.encode("ascii", "ignore")
    n_chars = len(body)
    n_nonspace = len(body_ascii.translate(None, _WHITESPACE)) + (len(body) - len(body_ascii))
    both_len = len(subject) + n_chars
    n_ascii = len(body_ascii) + len(subj_ascii)

    hosts = _url_hosts(record.urls)
    sender_local = record.sender_address.split("@", 1)[0] if record.sender_address else ""
    has_text = bool(record.text[:64].strip(" \n\t"))  # a character other than those three
    date = record.date

    values = [
        math.log1p(n_chars),
        _ratio(_count(body_ascii, _NOT_UPPER), _count(body_ascii, _NOT_LETTER)),
        _ratio(_count(body_ascii, _NOT_DIGIT), n_nonspace),
        _ratio(both_len - n_ascii, both_len),
        math.log1p(subject.count("!") + body.count("!")),
        math.log1p(_money_count(subject, body)),
        math.log1p(len(record.urls)),
        math.log1p(len(set(hosts))),
        1.0 if any(_IPV4_RE.match(h) for h in hosts) else 0.0,
        1.0 if record.n_html_parts else 0.0,
        1.0 if record.n_html_parts and not has_text else 0.0,
        math.log1p(record.n_html_tags),
        math.log1p(record.n_attachments),
        math.log1p(record.n_parts),
        math.log1p(len(subject)),
        _ratio(_count(subj_ascii, _NOT_UPPER), _count(subj_ascii, _NOT_LETTER)),
        1.0 if _REPLY_RE.match(subject) else 0.0,
        0.0 if record.sender_address else 1.0,
        1.0 if record.sender_name else 0.0,
        _ratio(_count(sender_local.encode("ascii", "ignore"), _NOT_DIGIT), len(sender_local)),
        1.0 if record.sender_domain in FREEMAIL_DOMAINS else 0.0,
        0.0 if date is not None else 1.0,
        float(date.hour) if date is not None else -1.0,
        math.log1p(spam_phrase_count(lowered_doc)),
    ]
    return values


assert len(ENGINEERED_NAMES) == 24
