"""The first half of Dockerfile parsing: text to logical lines, as BuildKit's parser reads it.

This is where the file's layout rules live (moby/buildkit `frontend/dockerfile/parser`):
parser directives at the very top, comments, line continuations with the escape character
(comment and blank lines inside a continuation are skipped), and heredoc bodies, which follow
their instruction's line and are read before the next instruction. What comes out is one
`LogicalLine` per instruction: its keyword, its `--flags`, the rest of its text and its heredocs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from berth.build.expand import Lexer
from berth.build.instructions import Heredoc
from berth.errors import InvalidArgument

DIRECTIVES = ("syntax", "escape", "check")
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_BLANKS = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$")
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
# Splits a line into words keeping quotes and escapes, to find `<<WORD` in it.
_RAW = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True)
_PLAIN = Lexer(skip_unset=True)
_QUOTED = Lexer(raw_quotes=True, skip_unset=True)

Fail = Callable[[int, str], InvalidArgument]


class LogicalLine(NamedTuple):
    start: int
    text: str
    keyword: str
    flags: tuple[str, ...]
    rest: str
    heredocs: tuple[Heredoc, ...]


def split_command(line: str, escape: str) -> tuple[str, tuple[str, ...], str]:
    """(keyword, flags, rest) of an instruction's text: the flags are the leading `--x=y`
    words, with their quotes and escapes removed."""
    parts = _BLANKS.split(line.strip(), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = _extract_flags(parts[1], escape)
    return parts[0], tuple(flags), rest.strip()


def _extract_flags(text: str, escape: str) -> tuple[str, list[str]]:
    flags: list[str] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if not text.startswith("--", position):
            return text[position:], flags
        word, position = _flag_word(text, position, escape)
        if word == "--":
            return text[position:], flags
        if word:
            flags.append(word)


def _flag_word(text: str, position: int, escape: str) -> tuple[str | None, int]:
    """One flag word from `position`: quotes removed, escapes applied."""
    out: list[str] = []
    quote = ""
    quoted = False
    while position < len(text):
        char = text[position]
        position += 1
        if not quote and char.isspace():
            break
        if not quote and char in "'\"":
            quote, quoted = char, True
            continue
        if quote and char == quote:
            quote = ""
            continue
        if char == escape:
            if position == len(text):
                break
            char = text[position]
            position += 1
        out.append(char)
    word = "".join(out)
    return (word if word or quoted else None), position


def json_words(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when `rest` isn't one (then Docker reads the
    instruction in shell form). An array holding anything but strings is an error."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like `<<EOF`, `<<-"EOF"` or `3<<EOF` opens (body not read yet)."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    try:
        words = _PLAIN.words(rest, {})
        raw = _QUOTED.words(rest, {})
    except InvalidArgument:
        return None
    if len(words) != 1 or len(raw) != 1:
        return None
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=words[0],
        content="",
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
        fd=int(match.group(1) or 0),
    )


def heredocs_in(line: str) -> list[Heredoc]:
    """Every heredoc a line opens, in order (`RUN <<A <<B` opens two)."""
    try:
        words = _RAW.words(line, {})
    except InvalidArgument:
        return []
    return [doc for word in words if (doc := parse_heredoc(word)) is not None]


class Reader:
    """Reads a Dockerfile's text into directives and logical lines."""

    def __init__(self, text: str, fail: Fail) -> None:
        self.lines = text.removeprefix("\ufeff").split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.fail = fail
        self.escape = "\\"
        self.directives: dict[str, str] = {}
        self._directives_done = False
        self._continuation = self._continuation_regex()
        self.index = 0

    def _continuation_regex(self) -> re.Pattern[str]:
        escape = re.escape(self.escape)
        return re.compile(rf"([^{escape}]){escape}[ \t]*$|^{escape}[ \t]*$")

    def _directive(self, number: int, token: str) -> bool:
        """Whether `token` is a parser directive; only lines before anything else can be."""
        if self._directives_done:
            return False
        match = _DIRECTIVE.match(token[1:].lstrip()) if token.startswith("#") else None
        if match is None or match.group(1).lower() not in DIRECTIVES:
            self._directives_done = True
            return False
        name, value = match.group(1).lower(), match.group(2)
        if name in self.directives:
            raise self.fail(number, f"only one {name} parser directive can be used")
        self.directives[name] = value
        if name == "escape":
            if value not in ("`", "\\"):
                raise self.fail(number, f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self._continuation = self._continuation_regex()
        return True

    def _trim(self, token: str) -> tuple[str, bool]:
        """The line without its continuation escape, and whether the instruction ends here."""
        match = self._continuation.search(token)
        if match is None:
            return token, True
        return token[: match.start()] + (match.group(1) or ""), False

    def __iter__(self) -> Reader:
        return self

    def __next__(self) -> LogicalLine:
        while self.index < len(self.lines):
            number = self.index + 1
            token = self.lines[self.index].rstrip("\r\n").lstrip()
            self.index += 1
            self._directive(number, token)
            if token.startswith("#"):
                token = ""
            text, ended = self._trim(token)
            if ended and not text:
                continue
            parts = [text]
            while not ended and self.index < len(self.lines):
                raw = self.lines[self.index].rstrip("\r\n")
                self.index += 1
                if raw.lstrip().startswith("#") or not raw.strip():
                    continue
                text, ended = self._trim(raw)
                parts.append(text)
            return self._logical(number, "".join(parts))
        raise StopIteration

    def _logical(self, start: int, text: str) -> LogicalLine:
        keyword, flags, rest = split_command(text, self.escape)
        bodies: tuple[Heredoc, ...] = ()
        if "<<" in text and self._may_hold_heredoc(keyword, rest):
            bodies = tuple(self._body(start, doc) for doc in heredocs_in(text))
        return LogicalLine(start, text, keyword, flags, rest, bodies)

    def _may_hold_heredoc(self, keyword: str, rest: str) -> bool:
        if keyword.upper() == "ONBUILD":
            keyword, _, rest = split_command(rest, self.escape)
        if keyword.upper() not in _HEREDOC_KEYWORDS:
            return False
        try:
            return json_words(rest) is None
        except ValueError:
            return False

    def _body(self, start: int, doc: Heredoc) -> Heredoc:
        """Read the heredoc's body: the lines up to its delimiter."""
        body: list[str] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            self.index += 1
            candidate = line.rstrip("\r\n")
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                return Heredoc(doc.name, "".join(body), doc.expand, doc.chomp, doc.fd)
            body.append(line + "\n")
        raise self.fail(start, f"unterminated heredoc {doc.name}")


def parse_words(text: str, escape: str) -> list[str]:
    """Split ENV/LABEL/ARG text into words on unquoted blanks, keeping quotes and escapes in
    each word: they are removed later, when the word is expanded."""
    words: list[str] = []
    out: list[str] = []
    quote = ""
    started = False
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if not quote and char.isspace():
            if out or started:
                words.append("".join(out))
            out, started = [], False
            continue
        started = started or char in "'\""
        if not quote and char in "'\"":
            quote = char
        elif quote and char == quote:
            quote = ""
        elif char == escape and quote != "'":
            if index == len(text):
                continue
            out.append(char)
            char = text[index]
            index += 1
        out.append(char)
    if out or started:
        words.append("".join(out))
    return words


def run_script(command: str, heredocs: tuple[Heredoc, ...]) -> tuple[str, Heredoc | None]:
    """What a shell-form RUN with heredocs executes, as BuildKit does it: `RUN <<EOF` alone
    runs the body as the shell command, or, when the body starts with `#!`, as an executable
    file (returned second; BuildKit mounts it at /dev/pipes/<name>); anything else
    (`RUN python3 <<EOF`) is the line and the bodies handed whole to the shell."""
    if not heredocs:
        return command, None
    first = heredocs[0]
    if parse_heredoc(command) is not None:
        if first.text.startswith("#!"):
            return "/dev/pipes/" + first.name, first
        return first.text, None
    return command + "".join(f"\n{doc.content}{doc.name}" for doc in heredocs), None
