"""Go's template lexer: the text between actions, and the tokens inside `{{ }}`.

Trim markers (`{{- ` and ` -}}`) and comments (`{{/* */}}`) are handled here, as in Go, so
the parser never sees them. Errors carry Go's wording: `template: NAME:LINE: message`.
"""

from __future__ import annotations

from berth.cli.gotemplate.gofmt import quote
from berth.errors import InvalidArgument

SPACES = " \t\r\n"
# Token kinds (keywords are their own word: "if", "range", "end", ...).
TEXT, LEFT, RIGHT, SPACE, PIPE = "text", "{{", "}}", "space", "|"
DECLARE, ASSIGN, LPAREN, RPAREN, CHAR = ":=", "=", "(", ")", "char"
STRING, RAW, RUNE, NUMBER, BOOL = "string", "raw string", "rune", "number", "bool"
DOT, FIELD, VARIABLE, IDENT, EOF = ".", "field", "variable", "identifier", "EOF"
KEYWORDS = frozenset("block break continue define else end if nil range template with".split())
_TERMINATORS = frozenset(".,|:()")
_DECIMAL, _HEX = "0123456789_", "0123456789abcdefABCDEF_"


class Token:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind = kind
        self.text = text
        self.pos = pos

    def __str__(self) -> str:
        """How Go's parser names a token in "unexpected X in Y"."""
        if self.kind == EOF:
            return "EOF"
        if self.kind in KEYWORDS:
            return f"<{self.text}>"
        if len(self.text) > 10:
            return quote(self.text[:10]) + "..."
        return quote(self.text)


def syntax_error(name: str, source: str, pos: int, message: str) -> InvalidArgument:
    line = source.count("\n", 0, pos) + 1
    return InvalidArgument(f"template: {name}:{line}: {message}")


def _is_alnum(char: str) -> bool:
    return char == "_" or char.isalpha() or char.isdigit()


def _char_name(char: str) -> str:
    """Go's %#U of a rune: U+0023 '#'."""
    return f"U+{ord(char):04X} '{char}'"


class _Lexer:
    def __init__(self, source: str, name: str) -> None:
        self.source = source
        self.name = name
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str) -> InvalidArgument:
        return syntax_error(self.name, self.source, self.pos, message)

    def peek(self) -> str:
        return self.source[self.pos : self.pos + 1]

    def emit(self, kind: str, start: int) -> None:
        self.tokens.append(Token(kind, self.source[start : self.pos], start))

    def at_right(self) -> tuple[bool, bool]:
        """At `}}`, or at ` -}}` (a trim marker: whitespace, then a dash)?"""
        rest = self.source[self.pos : self.pos + 4]
        if len(rest) == 4 and rest[0] in SPACES and rest[1:] == "-}}":
            return True, True
        return rest.startswith("}}"), False

    def run(self) -> list[Token]:
        source = self.source
        while True:
            start = source.find("{{", self.pos)
            if start < 0:
                if self.pos < len(source):
                    self.tokens.append(Token(TEXT, source[self.pos :], self.pos))
                self.tokens.append(Token(EOF, "", len(source)))
                return self.tokens
            marker = source[start + 2 : start + 4]
            trim = len(marker) == 2 and marker[0] == "-" and marker[1] in SPACES
            end = len(source[self.pos : start].rstrip(SPACES)) + self.pos if trim else start
            if end > self.pos:
                self.tokens.append(Token(TEXT, source[self.pos : end], self.pos))
            self.pos = start + 2 + (2 if trim else 0)
            if source.startswith("/*", self.pos):
                self.comment()
            else:
                self.tokens.append(Token(LEFT, "{{", start))
                self.action()

    def skip_trimmed(self, trim: bool) -> None:
        self.pos += 2
        if trim:
            rest = self.source[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACES))

    def comment(self) -> None:
        close = self.source.find("*/", self.pos + 2)
        if close < 0:
            raise self.error("unclosed comment")
        self.pos = close + 2
        delim, trim = self.at_right()
        if not delim:
            raise self.error("comment ends before closing delimiter")
        self.pos += 2 if trim else 0
        self.skip_trimmed(trim)

    def action(self) -> None:
        depth = 0
        while True:
            delim, trim = self.at_right()
            if delim:
                if depth:
                    raise self.error("unclosed left paren")
                start = self.pos
                self.pos += 2 if trim else 0
                self.tokens.append(Token(RIGHT, "}}", start))
                self.skip_trimmed(trim)
                return
            start = self.pos
            char = self.peek()
            if not char:
                raise self.error("unclosed action")
            self.pos += 1
            if char in SPACES:
                self.space(start)
            elif char in "=|(),":
                kinds = {"=": ASSIGN, "|": PIPE, "(": LPAREN, ")": RPAREN, ",": CHAR}
                # A stray ")" is left to the parser, which words it as Go's does.
                depth = max(depth + {"(": 1, ")": -1}.get(char, 0), 0)
                self.emit(kinds[char], start)
            elif char == ":":
                if self.peek() != "=":
                    raise self.error("expected :=")
                self.pos += 1
                self.emit(DECLARE, start)
            elif char in "\"`'":
                self.quoted(char, start)
            elif char in ".$" and not (char == "." and self.peek().isdigit()):
                self.word(start, FIELD if char == "." else VARIABLE)
            elif char in "+-." or char.isdigit():
                self.number(start)
            elif _is_alnum(char):
                self.word(start, IDENT)
            elif " " < char < "\x7f":
                self.emit(CHAR, start)
            else:
                raise self.error(f"unrecognized character in action: {_char_name(char)}")

    def space(self, start: int) -> None:
        while self.peek() and self.peek() in SPACES:
            self.pos += 1
        if self.source.startswith("-}}", self.pos):  # the last space belongs to ` -}}`
            self.pos -= 1
            if self.pos == start:
                return
        self.emit(SPACE, start)

    def at_terminator(self) -> bool:
        char = self.peek()
        return not char or char in SPACES or char in _TERMINATORS or self.at_right()[0]

    def word(self, start: int, kind: str) -> None:
        """A field (.Name), a variable ($name), or an identifier, keyword or bool."""
        if kind != IDENT and self.at_terminator():
            self.emit(DOT if kind == FIELD else VARIABLE, start)
            return
        while self.peek() and _is_alnum(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            raise self.error(f"bad character {_char_name(self.peek())}")
        text = self.source[start : self.pos]
        if kind == IDENT and text in KEYWORDS:
            kind = text
        elif kind == IDENT and text in ("true", "false"):
            kind = BOOL
        self.emit(kind, start)

    def quoted(self, quote_char: str, start: int) -> None:
        kind = {'"': STRING, "`": RAW, "'": RUNE}[quote_char]
        what = {STRING: "quoted string", RAW: "raw quoted string", RUNE: "character constant"}
        while True:
            char = self.peek()
            if not char or (char == "\n" and kind != RAW):
                raise self.error(f"unterminated {what[kind]}")
            self.pos += 1
            if char == quote_char:
                break
            if char == "\\" and kind != RAW:
                if self.peek() in ("", "\n"):
                    raise self.error(f"unterminated {what[kind]}")
                self.pos += 1
        self.emit(kind, start)

    def accept(self, chars: str) -> bool:
        if self.peek() and self.peek() in chars:
            self.pos += 1
            return True
        return False

    def accept_run(self, chars: str) -> None:
        while self.accept(chars):
            pass

    def number(self, start: int) -> None:
        """A number as Go's lexer scans it (the parser converts it, or refuses it)."""
        self.pos = start
        self.accept("+-")
        digits = _DECIMAL
        if self.accept("0"):
            bases = (("xX", _HEX), ("oO", "01234567_"), ("bB", "01_"))
            digits = next((run for prefix, run in bases if self.accept(prefix)), digits)
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        exponent = {_DECIMAL: "eE", _HEX: "pP"}.get(digits, "")
        if exponent and self.accept(exponent):
            self.accept("+-")
            self.accept_run(_DECIMAL)
        if self.peek() and (_is_alnum(self.peek()) or self.peek() in "+-"):
            self.pos += 1  # no complex numbers here, and nothing may follow a number
            raise self.error(f"bad number syntax: {quote(self.source[start : self.pos])}")
        self.emit(NUMBER, start)


def lex(source: str, name: str) -> list[Token]:
    """The tokens of a template, ending with EOF; raises Go's lexer errors."""
    return _Lexer(source, name).run()
