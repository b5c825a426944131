"""``email.feedparser.FeedParser`` (compat32) for a whole text, without its line-by-line walk.

``parse_text(text)`` builds the same message tree as ``email.parser.Parser().parsestr(text)``:
the same headers, payloads, preambles, epilogues, default types and unix-from lines in the
same objects (only the parser's *defects* are not recorded: nothing here reads them). It is a
port of ``FeedParser._parsegen`` of Python 3.11, statement by statement, onto a list of the
text's lines, with one change of method: where the parser reads the rest of a part line by
line until an "end of file" (a line that one of the enclosing multiparts' boundary patterns,
or a blank-line matcher, accepts), this port finds that line among the few that could be one
(lines starting with ``-`` or a line break: every boundary line starts with ``--``) and
takes the lines before it as one slice. The body of a multipart message then costs a few
Python steps per part instead of a few per line. (Nor is a pattern compiled for each
boundary: see :func:`_boundary_matcher`.)

Unlike the parser, it refuses input over the limits of :mod:`spam_core.message.limits`
(MIME depth and parts, header bytes and fields) as soon as it meets them, with
``EmailLimitExceeded``: the parser recurses per MIME level, so depth must be bounded.
"""

from __future__ import annotations

import bisect
import email.feedparser
import email.message
import re
from collections.abc import Callable
from operator import itemgetter

from spam_core.message.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_MIME_DEPTH,
    MAX_MIME_PARTS,
    EmailLimitExceeded,
)

_HEADER_LINE_RE = email.feedparser.headerRE
_NLCRE = email.feedparser.NLCRE
_NLCRE_BOL = email.feedparser.NLCRE_bol
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_ODD_LINE_BREAKS_RE = re.compile(r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""Line breaks of ``str.splitlines`` at which the feed parser does not break."""
_EOF_CANDIDATE_RE = re.compile(r"[-\r\n]")
_BOUNDARY_TAIL_RE = re.compile(r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")
"""What the parser's boundary pattern ``(?P<sep>--boundary)(?P<end>--)?...$`` asks after
its literal ``--boundary``."""

Matcher = Callable[[str], object]


def split_lines(text: str) -> list[str]:
    r"""The lines of ``text`` as the feed parser cracks them (at ``\r``, ``\n``, ``\r\n``; ends
    kept)."""
    lines = text.splitlines(keepends=True)
    # str.splitlines also breaks after a few other characters: then a line ends in one
    if lines and _ODD_LINE_BREAKS_RE.search("".join(map(itemgetter(-1), lines))) is not None:
        return _LINE_RE.findall(text)
    return lines


def _boundary_matcher(separator: str) -> Matcher:
    """``re.compile("(?P<sep>" + re.escape(separator) + ")(?P<end>--)?...$").match``, without
    compiling a pattern per message (boundaries are all different, so the ``re`` cache never
    helps, and a compile costs more than the whole match; README, "Measured design choices"):
    the literal prefix, then the fixed rest of the pattern at its end (same groups, same
    ``$``)."""
    size = len(separator)
    tail = _BOUNDARY_TAIL_RE.match

    def match(line: str) -> re.Match[str] | None:
        return tail(line, size) if line.startswith(separator) else None

    return match


def _strip_eol(value: str) -> str:
    """``value`` without one final ``\\r\\n``, ``\\r`` or ``\\n`` (``NLCRE_eol``)."""
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith(("\r", "\n")):
        return value[:-1]
    return value


class _Parse:
    """One ``FeedParser`` run over a finished input (``BufferedSubFile`` folded in)."""

    def __init__(self, lines: list[str], factory: type[email.message.Message]) -> None:
        self.lines = lines
        self.pos = 0  # next line of ``lines`` to read
        self.pushed: list[str] = []  # lines given back (read first, last given back first)
        self.eofstack: list[Matcher] = []
        self.factory = factory
        self.msgstack: list[email.message.Message] = []
        self.cur: email.message.Message | None = None
        self.last: email.message.Message | None = None
        self._candidates: list[int] | None = None
        self.parts = 0  # MIME entities so far
        self.headers = 0  # header fields so far, all parts together

    # ------------------------------------------------------------------ input
    def _at_eof(self, line: str) -> bool:
        return any(ateof(line) for ateof in self.eofstack)

    def readline(self) -> str:
        """``BufferedSubFile.readline``: the next line, or '' at the (false) end of file."""
        if self.pushed:
            line = self.pushed.pop()
        elif self.pos < len(self.lines):
            line = self.lines[self.pos]
            self.pos += 1
        else:
            return ""
        if self.eofstack and self._at_eof(line):
            self.pushed.append(line)  # stays the next line
            return ""
        return line

    def unreadline(self, line: str) -> None:
        self.pushed.append(line)

    def _next_eof(self) -> int:
        """Index of the first line from ``pos`` on that an EOF matcher accepts (or the end)."""
        if not self.eofstack:
            return len(self.lines)
        if self._candidates is None:
            first_chars = "".join(map(itemgetter(0), self.lines))  # lines are never empty
            self._candidates = [m.start() for m in _EOF_CANDIDATE_RE.finditer(first_chars)]
        candidates = self._candidates
        lines = self.lines
        for k in range(bisect.bisect_left(candidates, self.pos), len(candidates)):
            i = candidates[k]
            if self._at_eof(lines[i]):
                return i
        return len(lines)

    def read_rest(self) -> list[str]:
        """The lines of ``for line in input`` (up to the false or true end of file)."""
        out: list[str] = []
        while self.pushed:
            line = self.readline()
            if line == "":
                return out
            out.append(line)
        end = self._next_eof()
        out.extend(self.lines[self.pos : end])
        self.pos = end
        return out

    # ------------------------------------------------------------------ messages
    def new_message(self) -> None:
        self.parts += 1
        if self.parts > MAX_MIME_PARTS:
            raise EmailLimitExceeded("MAX_MIME_PARTS", self.parts, MAX_MIME_PARTS, "MIME parts")
        if len(self.msgstack) > MAX_MIME_DEPTH:
            raise EmailLimitExceeded(
                "MAX_MIME_DEPTH", len(self.msgstack), MAX_MIME_DEPTH, "MIME nesting depth"
            )
        msg = self.factory()
        if self.cur and self.cur.get_content_type() == "multipart/digest":
            msg.set_default_type("message/rfc822")
        if self.msgstack:
            self.msgstack[-1].attach(msg)
        self.msgstack.append(msg)
        self.cur = msg
        self.last = msg

    def pop_message(self) -> email.message.Message:
        retval = self.msgstack.pop()
        self.cur = self.msgstack[-1] if self.msgstack else None
        return retval

    def parse_headers(self, lines: list[str]) -> None:
        """``FeedParser._parse_headers`` (defects not recorded)."""
        cur = self.cur
        lastheader = ""
        lastvalue: list[str] = []
        for lineno, line in enumerate(lines):
            if line[0] in " \t":
                if not lastheader:
                    continue  # FirstHeaderLineIsContinuationDefect
                lastvalue.append(line)
                continue
            if lastheader:
                cur.set_raw(*cur.policy.header_source_parse(lastvalue))
                lastheader, lastvalue = "", []
            if line.startswith("From "):
                if lineno == 0:
                    cur.set_unixfrom(_strip_eol(line))
                    continue
                if lineno == len(lines) - 1:
                    self.unreadline(line)
                    return
                continue  # MisplacedEnvelopeHeaderDefect
            i = line.find(":")
            if i == 0:
                continue  # InvalidHeaderDefect
            lastheader = line[:i]
            lastvalue = [line]
        if lastheader:
            cur.set_raw(*cur.policy.header_source_parse(lastvalue))

    def parsegen(self) -> None:
        """``FeedParser._parsegen`` (all input present, so nothing ever waits for data)."""
        self.new_message()
        headers = []
        size = 0
        while True:
            line = self.readline()
            if line == "":
                break
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise EmailLimitExceeded("MAX_HEADER_BYTES", size, MAX_HEADER_BYTES, "header bytes")
            if not _HEADER_LINE_RE.match(line):
                if not _NLCRE.match(line):
                    self.unreadline(line)  # MissingHeaderBodySeparatorDefect
                break
            headers.append(line)
        self.parse_headers(headers)
        self.headers += len(self.cur._headers)
        if self.headers > MAX_HEADERS:
            raise EmailLimitExceeded("MAX_HEADERS", self.headers, MAX_HEADERS, "headers")
        self.parse_body()

    def parse_body(self) -> None:
        """The rest of ``FeedParser._parsegen``: the body of ``cur``, its headers parsed."""
        cur = self.cur
        if cur.get_content_type() == "message/delivery-status":
            while True:
                self.eofstack.append(_NLCRE.match)
                self.parsegen()
                self.pop_message()
                self.eofstack.pop()
                self.readline()
                line = self.readline()
                if line == "":
                    break
                self.unreadline(line)
            return
        if cur.get_content_maintype() == "message":
            self.parsegen()
            self.pop_message()
            return
        if cur.get_content_maintype() == "multipart":
            self._parse_multipart(cur)
            return
        cur.set_payload("".join(self.read_rest()))

    def _parse_multipart(self, cur: email.message.Message) -> None:
        boundary = cur.get_boundary()
        if boundary is None:
            cur.set_payload("".join(self.read_rest()))  # NoBoundaryInMultipartDefect
            return
        boundary_match = _boundary_matcher("--" + boundary)
        capturing_preamble = True
        preamble: list[str] = []
        linesep = False
        close_boundary_seen = False
        while True:
            line = self.readline()
            if line == "":
                break
            mo = boundary_match(line)
            if mo:
                if mo.group("end"):
                    close_boundary_seen = True
                    linesep = mo.group("linesep")
                    break
                if capturing_preamble:
                    if preamble:
                        preamble[-1] = _strip_eol(preamble[-1])
                        cur.preamble = "".join(preamble)
                    capturing_preamble = False
                    self.unreadline(line)
                    continue
                while True:  # consume repeated boundary lines
                    line = self.readline()
                    mo = boundary_match(line)
                    if not mo:
                        self.unreadline(line)
                        break
                self.eofstack.append(boundary_match)
                self.parsegen()
                last = self.last
                if last.get_content_maintype() == "multipart":
                    epilogue = last.epilogue
                    if epilogue == "":
                        last.epilogue = None
                    elif epilogue is not None:
                        last.epilogue = _strip_eol(epilogue)
                else:
                    payload = last._payload
                    if isinstance(payload, str):
                        last._payload = _strip_eol(payload)
                self.eofstack.pop()
                self.pop_message()
                self.last = self.cur
            else:
                preamble.append(line)
        if capturing_preamble:
            cur.set_payload("".join(preamble))  # StartBoundaryNotFoundDefect
            self.read_rest()
            cur.epilogue = ""
            return
        if not close_boundary_seen:
            return  # CloseBoundaryNotFoundDefect
        epilogue = [""] if linesep else []
        epilogue.extend(self.read_rest())
        if epilogue:
            bolmo = _NLCRE_BOL.match(epilogue[0])
            if bolmo:
                epilogue[0] = epilogue[0][len(bolmo.group(0)) :]
        cur.epilogue = "".join(epilogue)


def parse_text(
    text: str, factory: type[email.message.Message] = email.message.Message
) -> email.message.Message:
    """``email.parser.Parser(factory).parsestr(text)`` (compat32), defects aside."""
    run = _Parse(split_lines(text), factory)
    run.parsegen()
    return run.pop_message()


def parse_body(message: email.message.Message, body: str) -> email.message.Message:
    """Finish the parse of a message whose headers are parsed: ``message`` holds them, and
    ``body`` is the text after the header lines (and after the blank line that ends them,
    when that is what ends them). This is the state the parser is in after reading the
    headers, so the result is the parse of the whole text, provided no header line was
    given back to the body (a last header line starting with "From ")."""
    run = _Parse(split_lines(body), type(message))
    run.parts, run.headers = 1, len(message._headers)
    run.msgstack.append(message)
    run.cur = run.last = message
    run.parse_body()
    return run.pop_message()
