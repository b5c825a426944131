"""``count_tags``, ``attribute_urls`` and ``html_to_text`` give exactly what the plain regex
passes they replace give: the same counts, lists and strings.

The reference below is the pipeline as it was, frozen here: one ``findall`` per function,
and seven passes for the visible text (comments, script/style/head/title elements,
line-breaking tags, all tags, ``html.unescape``, horizontal space, blank lines). Compared on
every HTML part that ``parse_raw`` hands over for the whole corpus, on every text part of
the corpus as the standard library decodes it, on hand-picked edge cases and on fuzzed
input built from the pieces that make these patterns differ.
"""

from __future__ import annotations

import email
import html as stdlib_html
import random
import re
import sys

import pytest

from spam_core.message import html
from spam_core.message import parse as parse_module

# --------------------------------------------------------------------------- the reference
REF_OPEN_TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")
REF_ATTR_URL_RE = re.compile(
    r"""(?:href|src|action)\s*=\s*["']?((?:https?://|www\.)[^"'\s>]+)""", re.IGNORECASE
)
REF_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
REF_DROP_BLOCKS_RE = re.compile(
    r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
REF_BREAK_RE = re.compile(r"<(?:br|/p|p|/div|div|/tr|tr|/li|li|/h\d|hr)\b[^>]*>", re.IGNORECASE)
REF_TAG_RE = re.compile(r"<[a-zA-Z/!][^>]*>")
REF_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0]+")
REF_BLANK_LINES_RE = re.compile(r"\n\s*\n+")


def ref_count_tags(markup: str) -> int:
    return len(REF_OPEN_TAG_RE.findall(markup))


def ref_attribute_urls(markup: str) -> list[str]:
    return REF_ATTR_URL_RE.findall(markup)


def ref_html_to_text(markup: str) -> str:
    text = REF_COMMENT_RE.sub(" ", markup)
    text = REF_DROP_BLOCKS_RE.sub(" ", text)
    text = REF_BREAK_RE.sub("\n", text)
    text = REF_TAG_RE.sub(" ", text)
    text = stdlib_html.unescape(text)
    text = REF_SPACES_RE.sub(" ", text)
    text = REF_BLANK_LINES_RE.sub("\n", text)
    return text.strip()


def assert_same(markup: str) -> None:
    assert html.count_tags(markup) == ref_count_tags(markup), markup
    assert html.attribute_urls(markup) == ref_attribute_urls(markup), markup
    assert html.html_to_text(markup) == ref_html_to_text(markup), markup


# --------------------------------------------------------------------------- the corpus
def test_html_parts_parse_raw_hands_over(
    corpus_raw: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every string ``parse.py`` passes to these functions for the corpus (recorded there)."""
    seen: list[str] = []
    count_tags = html.count_tags

    def recording(markup: str) -> int:
        seen.append(markup)
        return count_tags(markup)

    monkeypatch.setattr(html, "count_tags", recording)
    for raw in corpus_raw:
        parse_module.parse_raw(raw)
    monkeypatch.undo()
    assert len(seen) > 1000
    for markup in seen:
        assert_same(markup)


def test_text_parts_as_the_standard_library_decodes_them(corpus_raw: list[bytes]) -> None:
    """Every text part, HTML or not, undecoded line breaks and all."""
    checked = 0
    for raw in corpus_raw:
        for part in email.message_from_bytes(raw).walk():
            if part.get_content_maintype() != "text":
                continue
            data = part.get_payload(decode=True)
            if data:
                assert_same(data.decode("latin-1"))
                checked += 1
    assert checked > 5000


# --------------------------------------------------------------------------- edge cases
EDGE_CASES = [
    "",
    " ",
    "\n\n",
    "plain text, no markup at all & no reference",
    "<",
    ">",
    "<>",
    "< p>",
    "a < b > c",
    "<<br>>",
    "<p <br> q>",  # a break inside a tag that is not closed before it
    "<x <br> y>",  # ... so the tag pass takes the break's line break along
    "<a <b <c>",
    "<a" * 50,  # tags that never close
    "<br" * 50 + ">",
    "x<br/>y<BR />z<bR>w<Br\n>v",
    "<p>a</p><P>b</P><p class=x>c<pre>d</pre>",
    "<div>a</div><dıv>b</dİv><DİV>c</DIV><divx>d",
    "<li>a<lı>b<Lİ>c<lix>d</li>",
    "<h1>a</h1><H6>b</h7><h>c</h><hr><HR/><hrx>",
    "<tr><td>a</td></tr>\n<tr>\n<td>b</td>\n</tr>",
    "<!-- a -->b<!--c-->d<!---->e<!--->f-->g",
    "<!-- unclosed comment <b>bold</b>",
    "<!-- one --> <!-- two",
    "<!-- <script> -->x</script>y",
    "<script><!-- </script> -->x</script>y",
    "<script>a</script >b<SCRIPT>c</script\n>d<Script>e</SCRIPT\t >f",
    "<script>never closed <b>bold</b>",
    "<script>a</style>b</script>c",
    "<style>a</style><style>b",
    "<title>never closed<script>a</script>b<style>c<TITLE>d</style>e<title>f",
    "<ſcript>a</script>b<ſcript>c</ſCRIPT>d",  # the back-reference compares lower case
    "<title>a</tıtle>b</TİTLE>c</title>d",
    "<head>a<title>b</title>c</head>d</head>e",
    "<header>a</header><titles>b</titles><title_x>c</title_x><titleé>d</titleé>",
    "<scriptx>a</scriptx><script1>b</script1><script/>c</script>",
    "&nbsp;&NBSP;&nbsp&amp;&amp&lt;&lt&gt;&quot;&#65;&#x41;&#X41&#;&#x;&#&",
    "&amp;lt; &amp;amp; &&nbsp; &#&nbsp; &lt&nbsp; &notin&nbsp; &noti; &notin;",
    "&lt\xa0x &l\xa0 &abcdefghijklmnopqrstuvwxyz0123456789abc&nbsp;x",
    "&#0; &#x110000; &#128; &#xD800; &#9;&#10;&#12;&#13;&#32;&#160;&#12288;",
    "a&nbsp;<b>b</b>&nbsp;\xa0\t c",
    "a \t\r\f\v\xa0 b\u3000\u3000c\x1c\x1dd\x85e\u2028f",
    "line\r\nline\r\rline\n \n\t\n  line\n\u3000\nend",
    "<p>&nbsp;</p><p> &nbsp; </p><br>&nbsp;<br>",
    "<a href=\"http://a.example/x\">a</a><A HREF = 'HTTPS://b.example'>",
    "<a href=http://a.example/?next=http://b.example src=http://c.example>",
    '<a href =http://a/href= http://b/src="www.c">',  # a candidate inside a URL
    'actıon =https://c.example/?q=ACTİON= http://ſrc=\t"www.e.example"',
    "HREF\t=\nwww.baction=\n'www.a/HREF=\"HTTPS://a/\t",
    "<img ſrc=http://long-s.example><form actİon=www.dotted.example actıon=www.dotless.example>",
    "<a href\u2003=\u3000http://unicode-space.example>x",
    "href=http://start.example and src = www.end.example",
    "<p>日本語 <b>テキスト</b></p>\u00e9\u0130\u0131\u017f\u212a",
    "<!DOCTYPE html><html><head><title>t</title><style>p{}</style></head><body>b</body></html>",
    "<?xml version='1.0'?><!x><!-- c --><!>",
]


@pytest.mark.parametrize("markup", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases(markup: str) -> None:
    assert_same(markup)


@pytest.mark.parametrize(
    "markup",
    [
        "<!--" * 1500,
        "<a" * 1500,
        "<br" * 1500,
        "<script>" * 800,
        "".join("<" + ("SCRIPT" if i % 2 else "script") + ">" for i in range(800)),
        "<title>" * 400 + "</title>" + "<script>" * 400,
        "<a " * 2000 + ">",
        "x href =http://a " * 500,
        "&" * 5000 + "&nbsp;" * 1000,
        " " * 5000 + "\n" * 5000 + "\u3000" * 100,
    ],
    ids=range(10),
)
def test_long_and_unclosed_inputs(markup: str) -> None:
    assert_same(markup)


def test_the_spelled_out_letters_fold_like_ignorecase() -> None:
    """``_BREAK_RE`` and ``_BLOCK_RE`` spell case-insensitive letters as classes."""
    letters = "bdhilprstv"
    any_letter = re.compile(f"[{letters}]", re.IGNORECASE)
    folded: dict[str, set[str]] = {c: set() for c in letters}
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if any_letter.fullmatch(ch):
            for c in letters:
                if re.fullmatch(c, ch, re.IGNORECASE):
                    folded[c].add(ch)
    expected = {c: {c, c.upper()} for c in letters}
    expected["i"] |= {"\u0130", "\u0131"}
    expected["s"] |= {"\u017f"}
    assert folded == expected


# --------------------------------------------------------------------------- fuzzing
TAG_NAMES = [
    "br", "BR", "bR", "p", "P", "pre", "div", "DIV", "dıv", "dİv", "tr", "TR", "td", "li",
    "lı", "Lİ", "h1", "H2", "h", "hr", "a", "A", "font", "img", "b", "script", "SCRIPT",
    "ſcript", "scrİpt", "style", "ſtyle", "head", "HEAD", "header", "title", "tıtle", "titles",
    "title_x", "titleé", "html", "x", "K", "!DOCTYPE html", "!--", "!", "?xml", "",
]  # fmt: skip
SPACES = [
    " ", "  ", "\t", "\n", "\r\n", "\r", "\f", "\v", "\xa0", "\u3000", "\x1c", "\x85",
    "\u2028", "\n\n", " \n \n ", "\n\t\n",
]  # fmt: skip
REFERENCES = [
    "&nbsp;", "&NBSP;", "&nbsp", "&amp;", "&amp", "&lt;", "&lt", "&gt;", "&#65;", "&#x41;",
    "&#X41", "&#;", "&#x;", "&#", "&", "&&", "&amp;lt;", "&notin;", "&notin", "&noti", "&#0;",
    "&#x110000;", "&#128;", "&quot;", "&l", "&abcdefghijklmnopqrstuvwxyz0123456789abc;",
    "&#9;", "&#32;", "&#160;", "&nbsp;&nbsp;", "&lt&nbsp;", "&amp&nbsp;x",
]  # fmt: skip
URLS = [
    "http://a.example/x", "HTTP://B.example", "https://c.example/?q=http://d.example",
    "www.e.example", "WWW.F.example", "httpſ://g.example", "http://", "www.", "ftp://h.example",
    "http://x.example/a=b href=http://y",
]  # fmt: skip
ATTRIBUTE_NAMES = [
    "href", "HREF", "src", "SRC", "ſrc", "action", "actıon", "ACTİON", "xhref", "srcset",
    "style", "class", "hrefx", "",
]  # fmt: skip
OTHER = [
    "<!--", "-->", "<!-- c -->", "--", "->", "<!--->", "<!---->", "<!-- <script> -->",
    "<!-- </script> -->", "<", ">", "<<", ">>", "< p>", "<3", "a<b", "=", "'", '"', ";", "#",
    "/", "</", "</ script>", "</script >", "</SCRIPT\n>", "</scrıpt>", "</ſcript>",
    "</title\t>", "</head >", "hello", "Buy now", "é", "日本", "123", "_", "ſ", "ı", "İ", "K",
]  # fmt: skip


def _url(rng: random.Random) -> str:
    quote = rng.choice(["", '"', "'"])
    return quote + rng.choice(URLS) + (quote if rng.random() < 0.8 else "")


def _attribute(rng: random.Random) -> str:
    equals = rng.choice(["=", " =", "= ", " = ", "\n=\n", "=\t", "==", ""])
    value = _url(rng) if rng.random() < 0.6 else rng.choice(['"x"', "'y'", "z", '"a b"', '">'])
    return rng.choice(ATTRIBUTE_NAMES) + equals + value


def _tag(rng: random.Random) -> str:
    tag = "<" + ("/" if rng.random() < 0.3 else "") + rng.choice(TAG_NAMES)
    if rng.random() < 0.2:
        tag += rng.choice([" ", "\n", "\t", "/", " /", "_", "é", "1"])
    for _ in range(rng.choice([0, 0, 1, 2])):
        tag += " " + _attribute(rng)
    return tag + rng.choice([">", ">", ">", "/>", " >", "", "<", "\n>"])


def _tokens(rng: random.Random) -> str:
    """Tags, attributes, references, spaces, comments and text in any order."""
    out = []
    for _ in range(rng.choice([1, 2, 3, 5, 10, 20, 50, 200])):
        kind = rng.random()
        if kind < 0.35:
            out.append(_tag(rng))
        elif kind < 0.45:
            out.append(rng.choice(SPACES))
        elif kind < 0.55:
            out.append(rng.choice(REFERENCES))
        elif kind < 0.62:
            out.append(_attribute(rng))
        elif kind < 0.66:
            out.append(_url(rng))
        elif kind < 0.7:
            out.append("".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(3)))
        else:
            out.append(rng.choice(OTHER))
    return "".join(out)


def _alphabet(rng: random.Random) -> str:
    """Short strings over a few characters that matter to one pass."""
    alphabet = rng.choice(
        [
            "<>/! a",
            "<>brp/ \n",
            "<>&;# \n\xa0",
            "<!->",
            "<>=\"' hrefsc:/w.",
            "&#x0123456789;ampltgnbs",
            "<>scripthead/ \t",
            " \n\t\r\xa0\u3000\x1c",
        ]
    )
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))


def _attribute_chain(rng: random.Random) -> str:
    """URLs that end in the next attribute's name and ``=``: matches, candidates inside a
    URL and candidates after white space overlapping in every way."""
    out = [rng.choice(["", "<a ", "x "])]
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice(["href", "src", "action", "ſrc", "actİon", "HREF", "x", ""]))
        out.append(rng.choice(["", "", " ", "\t", "\u2003"]))
        out.append(rng.choice(["=", "=", "=", ""]))
        out.append(rng.choice(["", "", " ", "\n"]))
        out.append(rng.choice(["", '"', "'"]))
        out.append(rng.choice(["http://", "www.", "HTTPS://", "ftp://"]))
        out.append(rng.choice(["a/", "", "?q=", "b"]))
        out.append(rng.choice(["", "", " ", '"', "'", ">", "\t"]))
    return "".join(out)


@pytest.mark.parametrize("make", [_tokens, _alphabet, _attribute_chain])
def test_fuzz(make) -> None:
    rng = random.Random(make.__name__)
    for _ in range(20000):
        assert_same(make(rng))


def test_fuzz_corpus_slices(corpus_raw: list[bytes]) -> None:
    """Slices of real HTML with pieces spliced in and letters flipped to upper case."""
    rng = random.Random(5)
    sources = [raw.decode("latin-1") for raw in corpus_raw if b"<" in raw]
    for _ in range(10000):
        source = rng.choice(sources)
        start = rng.randrange(len(source))
        text = source[start : start + rng.choice([10, 100, 1000, 5000])]
        for _ in range(rng.choice([0, 1, 3, 10])):
            at = rng.randrange(len(text) + 1)
            piece = rng.choice([_tag(rng), rng.choice(OTHER), rng.choice(SPACES)])
            text = text[:at] + piece + text[at:]
        if rng.random() < 0.3:
            text = "".join(c.upper() if rng.random() < 0.3 else c for c in text)
        assert_same(text)
