"""Docker's variable substitution: the small shell that the Dockerfile front end runs over words.

A Dockerfile's `$VAR` is not expanded by a real shell but by BuildKit's own lexer
(moby/buildkit `frontend/dockerfile/shell/lex.go`), and users rely on its exact quirks: quotes
are removed, `\\$` keeps a dollar, `${VAR:-word}` nests, and a word split happens *after*
expansion so `ENV X="a b"` then `EXPOSE $X` yields two ports. This module behaves the same, so
a Dockerfile that builds with Docker expands to the same strings here.

`Lexer` holds the switches BuildKit uses in different places (keep quotes, keep escapes, leave
unset variables as written); `process_word` and `process_words` are the two everyday entry
points: one string (WORKDIR, ENV values, COPY paths) or a list of words (EXPOSE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from berth.errors import InvalidArgument

_SPECIAL_PARAMETERS = frozenset("@*#?-$!0")


class _Words:
    """The word splitter that runs alongside expansion: expanded text splits on whitespace,
    quoted or escaped text never does. (Plain classes here: dataclasses cost a cached
    build's start-up ~5 ms.)"""

    __slots__ = ("buffer", "in_word", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.buffer: list[str] = []
        self.in_word = False

    def add_char(self, char: str) -> None:
        if char.isspace():
            if self.in_word and self.buffer:
                self.words.append("".join(self.buffer))
                self.buffer.clear()
                self.in_word = False
        else:
            self.add_raw(char)

    def add_raw(self, text: str) -> None:
        self.buffer.append(text)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for char in text:
            self.add_char(char)

    def finish(self) -> list[str]:
        if self.buffer:
            self.words.append("".join(self.buffer))
            self.buffer.clear()
        return self.words


class Lexer:
    """One configuration of the substitution shell.

    `raw_quotes` keeps quote characters in the result and `raw_escapes` keeps escape
    characters (the parser uses both to find heredoc words without changing them);
    `skip_quotes` leaves quotes uninterpreted (COPY heredoc bodies); `skip_unset` writes an
    unset variable back as it was instead of expanding it to nothing.
    """

    __slots__ = ("escape", "raw_escapes", "raw_quotes", "skip_quotes", "skip_unset")

    def __init__(
        self,
        escape: str = "\\",
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_quotes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_quotes = skip_quotes
        self.skip_unset = skip_unset

    def word(self, text: str, env: Mapping[str, str], used: set[str] | None = None) -> str:
        """`text` expanded as one string: quotes removed, whitespace kept."""
        return _Run(self, text, env, used).process()[0]

    def words(self, text: str, env: Mapping[str, str], used: set[str] | None = None) -> list[str]:
        """`text` expanded, then split into words on unquoted whitespace."""
        return _Run(self, text, env, used).process()[1]


DEFAULT = Lexer()


def process_word(
    text: str, env: Mapping[str, str], *, escape: str = "\\", used: set[str] | None = None
) -> str:
    """Expand `text` as one word (what ENV, LABEL, WORKDIR, USER, COPY's paths get).
    The names of the variables that were set are added to `used`."""
    lexer = DEFAULT if escape == "\\" else Lexer(escape=escape)
    return lexer.word(text, env, used)


def process_words(
    text: str, env: Mapping[str, str], *, escape: str = "\\", used: set[str] | None = None
) -> list[str]:
    """Expand `text` and split it into words (what EXPOSE gets)."""
    lexer = DEFAULT if escape == "\\" else Lexer(escape=escape)
    return lexer.words(text, env, used)


class _SyntaxError(Exception):
    """A malformed substitution; reported once, with the whole text, by `_Run.process`."""


class _Run:
    """One pass of the lexer over one text: a cursor, the environment and what was used."""

    def __init__(
        self, lexer: Lexer, text: str, env: Mapping[str, str], used: set[str] | None
    ) -> None:
        self.lexer = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.used = used
        self.raw_escapes = lexer.raw_escapes

    def process(self) -> tuple[str, list[str]]:
        try:
            return self._until("", self.lexer.raw_escapes)
        except _SyntaxError as error:
            raise InvalidArgument(f"failed to process {self.text!r}: {error}") from None

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        char = self._peek()
        self.pos += 1 if char else 0
        return char

    def _until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Read up to `stop` (or the end when `stop` is empty), expanding as it goes."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._read_until(stop)
        finally:
            self.raw_escapes = saved

    def _read_until(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while (char := self._peek()) != "":
            if stop and char == stop:
                self._next()
                return "".join(result), words.finish()
            if char == "$":
                value = self._dollar()
                result.append(value)
                words.add_string(value)
            elif char == "<":
                value = self._possible_heredoc()
                result.append(value)
                words.add_raw(value)
            elif char in "'\"" and not self.lexer.skip_quotes:
                value = self._single_quoted() if char == "'" else self._double_quoted()
                result.append(value)
                words.add_raw(value)
            else:
                self._next()
                if char == self.lexer.escape:
                    if self.raw_escapes:
                        words.add_raw(char)
                        result.append(char)
                    char = self._next()
                    if char == "":
                        break
                    words.add_raw(char)
                else:
                    words.add_char(char)
                result.append(char)
        if stop:
            raise _SyntaxError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def _single_quoted(self) -> str:
        quote = self._next()
        out = [quote] if self.lexer.raw_quotes else []
        while True:
            char = self._next()
            if char == "":
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if char == "'":
                if self.lexer.raw_quotes:
                    out.append(char)
                return "".join(out)
            out.append(char)

    def _double_quoted(self) -> str:
        quote = self._next()
        out = [quote] if self.lexer.raw_quotes else []
        while True:
            char = self._peek()
            if char == "":
                raise _SyntaxError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if char == '"':
                self._next()
                if self.lexer.raw_quotes:
                    out.append(char)
                return "".join(out)
            if char == "$":
                out.append(self._dollar())
                continue
            self._next()
            if char == self.lexer.escape:
                if self.raw_escapes:
                    out.append(char)
                following = self._peek()
                if following == "":
                    continue
                if following in ('"', "$", self.lexer.escape):
                    char = self._next()
            out.append(char)

    def _possible_heredoc(self) -> str:
        """`<<` and the blanks after it stay glued to the next word, so `<< EOF` is one word
        when the parser looks for heredocs."""
        self._next()
        if self._peek() != "<":
            return "<"
        self._next()
        blanks = []
        while self._peek() in ("\t", "\r", " ") and self._peek():
            blanks.append(self._next())
        return "<<" + "".join(blanks)

    def _lookup(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is not None and self.used is not None:
            self.used.add(name)
        return value

    def _name(self) -> str:
        """A variable name: digits (a positional parameter), one special character, or
        letters, digits and underscores."""
        start = self.pos
        first = self._peek()
        if first.isdigit():
            while self._peek().isdigit():
                self._next()
            return self.text[start : self.pos]
        if first and first in _SPECIAL_PARAMETERS:
            return self._next()
        while (char := self._peek()) and (char.isalnum() or char == "_"):
            self._next()
        return self.text[start : self.pos]

    def _dollar(self) -> str:
        self._next()
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value = self._lookup(name)
            if value is None:
                return "$" + name if self.lexer.skip_unset else ""
            return value
        self._next()
        if self._peek() == "":
            raise _SyntaxError("syntax error: missing '}'")
        if self._peek() in "{}:":
            raise _SyntaxError("syntax error: bad substitution")
        name = self._name()
        operator = self._next()
        if operator == "}":
            value = self._lookup(name)
            if value is None:
                return "${" + name + "}" if self.lexer.skip_unset else ""
            return value
        if operator == "/":
            return self._replace(name)
        if operator == "":
            raise _SyntaxError("syntax error: missing '}'")
        return self._modifier(name, operator)

    def _modifier(self, name: str, operator: str) -> str:
        """`${name<op>word}` for the operators -, +, ?, #, % (with or without a colon)."""
        colon = operator == ":"
        if colon:
            operator = self._next()
        spelled = (":" if colon else "") + operator
        if operator not in "-+?#%" or not operator:
            raise _SyntaxError(f"unsupported modifier ({spelled}) in substitution")
        if colon and operator in "#%":
            raise _SyntaxError(f"unsupported modifier ({spelled}) in substitution")
        try:
            word, _ = self._until("}", operator in "#%")
        except _SyntaxError:
            if self._peek() == "":
                raise _SyntaxError("syntax error: missing '}'") from None
            raise
        value = self._lookup(name)
        if value is None and self.lexer.skip_unset:
            return "${" + name + spelled + word + "}"
        empty = value is None or (colon and value == "")
        if operator == "-":
            return word if empty else str(value)
        if operator == "+":
            return "" if empty else word
        if operator == "?":
            if value is None:
                raise _SyntaxError(f"{name}: {word or 'is not allowed to be unset'}")
            if colon and value == "":
                raise _SyntaxError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(operator)
        pattern = word[1:] if greedy else word
        return _trim(value or "", pattern, greedy, suffix=operator == "%")

    def _replace(self, name: str) -> str:
        """`${name/pattern/replacement}` and `${name//pattern/replacement}`."""
        every = self._peek() == "/"
        if every:
            self._next()
        try:
            pattern, _ = self._until("/", True)
            replacement, _ = self._until("}", True)
        except _SyntaxError:
            if self._peek() == "":
                raise _SyntaxError("syntax error: missing '}'") from None
            raise
        value = self._lookup(name)
        if value is None and self.lexer.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True)
        return regex.sub(lambda _: replacement, value or "", count=0 if every else 1)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool = False) -> re.Pattern[str]:
    """A shell wildcard pattern (`*`, `?`, backslash escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(star)
        elif char == "?":
            out.append(".")
        elif char == "\\":
            following = pattern[index] if index < len(pattern) else ""
            if following in ("}", "/") and following:
                continue
            if following not in ("*", "?", "\\") or not following:
                raise _SyntaxError(f"invalid pattern ({pattern}) in substitution")
            out.append(re.escape(following))
            index += 1
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _trim(value: str, pattern: str, greedy: bool, *, suffix: bool) -> str:
    """`${v#p}`/`${v##p}` drop the shortest/longest prefix matching `p`; `%` the suffix
    (matched on the reversed strings, as regexes only search leftmost)."""
    if not suffix:
        match = _pattern_regex(pattern, greedy=greedy, anchored=True).match(value)
        return value[match.end() :] if match else value
    reversed_pattern = _reverse_pattern(pattern)
    match = _pattern_regex(reversed_pattern, greedy=greedy, anchored=True).match(value[::-1])
    return value[::-1][match.end() :][::-1] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each escape before the character it escapes."""
    tokens: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            tokens.append(pattern[index : index + 2])
            index += 2
        else:
            tokens.append(pattern[index])
            index += 1
    return "".join(reversed(tokens))
