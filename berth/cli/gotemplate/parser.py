"""Go's template parser: tokens to a tree of nodes, with Go's parse-time checks.

As Go's, it refuses an unknown function, an undefined variable, `{{break}}` outside a
range and an `{{end}}` too many, and words its errors as Go does (`template: :1: function
"nofunc" not defined`). `define`, `template` and `block` (named sub-templates) are not
supported: a `--format` is one template.
"""

from __future__ import annotations

from collections.abc import Collection

from berth.cli.gotemplate import lexer
from berth.cli.gotemplate.gofmt import quote
from berth.cli.gotemplate.lexer import Token
from berth.cli.gotemplate.nodes import (
    Action,
    Bool,
    Branch,
    Break,
    Chain,
    Command,
    Continue,
    Dot,
    Field,
    Identifier,
    Nil,
    Node,
    Number,
    Pipe,
    String,
    Text,
    Variable,
    read_number,
    read_quoted,
)
from berth.errors import InvalidArgument

_OPERAND_STARTS = frozenset(
    (lexer.BOOL, lexer.RUNE, lexer.DOT, lexer.FIELD, lexer.IDENT, lexer.NUMBER, "nil")
) | {lexer.RAW, lexer.STRING, lexer.VARIABLE, lexer.LPAREN}


class _Marker:
    """An `{{end}}` or `{{else}}` (maybe `{{else if}}`/`{{else with}}`) closing a list."""

    __slots__ = ("chained", "word")

    def __init__(self, word: str, chained: str | None = None) -> None:
        self.word = word
        self.chained = chained


class _Parser:
    def __init__(self, source: str, name: str, functions: Collection[str]) -> None:
        self.source = source
        self.name = name
        self.functions = functions
        self.tokens = lexer.lex(source, name)
        self.index = 0
        self.variables = ["$"]
        self.range_depth = 0

    def error(self, message: str) -> InvalidArgument:
        token = self.tokens[max(self.index - 1, 0)]
        return lexer.syntax_error(self.name, self.source, token.pos, message)

    def unexpected(self, token: Token, context: str) -> InvalidArgument:
        return self.error(f"unexpected {token} in {context}")

    def peek(self) -> Token:
        return self.tokens[self.index]

    def next(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek_non_space(self) -> Token:
        while self.tokens[self.index].kind == lexer.SPACE:
            self.index += 1
        return self.tokens[self.index]

    def next_non_space(self) -> Token:
        self.peek_non_space()
        return self.next()

    def expect_right(self, context: str) -> None:
        token = self.next_non_space()
        if token.kind != lexer.RIGHT:
            raise self.unexpected(token, context)

    def parse(self) -> list[Node]:
        nodes: list[Node] = []
        while self.peek().kind != lexer.EOF:
            node = self.text_or_action()
            if isinstance(node, _Marker):
                raise self.error(f"unexpected {{{{{node.word}}}}}")
            nodes.append(node)
        return nodes

    def item_list(self) -> tuple[list[Node], _Marker]:
        nodes: list[Node] = []
        while self.peek().kind != lexer.EOF:
            node = self.text_or_action()
            if isinstance(node, _Marker):
                return nodes, node
            nodes.append(node)
        self.index += 1
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node | _Marker:
        token = self.next()
        if token.kind == lexer.TEXT:
            return Text(token.pos, token.text)
        return self.action()  # the lexer yields only text, actions and EOF here

    def action(self) -> Node | _Marker:
        token = self.next_non_space()
        word = token.kind
        if word in ("break", "continue"):
            self.expect_right(f"{{{{{word}}}}}")
            if not self.range_depth:
                raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}")
            return Break(token.pos) if word == "break" else Continue(token.pos)
        if word == "end":
            self.expect_right("end")
            return _Marker("end")
        if word == "else":
            chained = self.peek_non_space().kind
            if chained in ("if", "with"):
                return _Marker("else", chained)
            self.expect_right("else")
            return _Marker("else")
        if word in ("if", "range", "with"):
            return self.control(word)
        if word in ("define", "template", "block"):
            raise self.error(f"{{{{{word}}}}} is not supported: a format is a single template")
        self.index -= 1
        return Action(token.pos, self.pipeline("command", lexer.RIGHT))

    def control(self, kind: str) -> Branch:
        """`if`/`with`/`range` up to its `{{end}}`; variables declared inside end with it."""
        mark = len(self.variables)
        pipe = self.pipeline(kind, lexer.RIGHT)
        self.range_depth += kind == "range"
        body, end = self.item_list()
        self.range_depth -= kind == "range"
        otherwise: list[Node] = []
        if end.word == "else":
            if end.chained is not None:
                if end.chained != kind or kind == "range":
                    raise self.unexpected(self.next_non_space(), "input")
                self.next_non_space()
                otherwise = [self.control(kind)]
            else:
                otherwise, end = self.item_list()
                if end.word != "end":
                    raise self.error("expected end; found {{else}}")
        del self.variables[mark:]
        return Branch(kind, pipe, body, otherwise)

    def pipeline(self, context: str, end: str) -> Pipe:
        pipe = Pipe(self.peek_non_space().pos)
        self.declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.kind == end:
                break
            if token.kind not in _OPERAND_STARTS:
                raise self.unexpected(token, context)
            self.index -= 1
            pipe.commands.append(self.command())
        if not pipe.commands:
            raise self.error(f"missing value for {context}")
        for stage, command in enumerate(pipe.commands[1:], start=2):
            if isinstance(command.args[0], (Bool, Dot, Nil, Number, String)):
                raise self.error(f"non executable command in pipeline stage {stage}")
        return pipe

    def declarations(self, pipe: Pipe, context: str) -> None:
        """`$x :=`, `$x =`, or in a range `$k, $v :=`, at the start of a pipeline."""
        while self.peek_non_space().kind == lexer.VARIABLE:
            start = self.index
            variable = self.next_non_space().text
            following = self.peek_non_space()
            if following.kind in (lexer.DECLARE, lexer.ASSIGN):
                self.next_non_space()
                pipe.assign = following.kind == lexer.ASSIGN
                if pipe.assign and variable not in self.variables:
                    raise self.error(f'undefined variable "{variable}"')
                pipe.decl.append(variable)
                self.variables.append(variable)
                return
            if following.kind == lexer.CHAR and following.text == ",":
                self.next_non_space()
                pipe.decl.append(variable)
                self.variables.append(variable)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind == lexer.VARIABLE:
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.index = start
            return

    def command(self) -> Command:
        command = Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                command.args.append(operand)
            token = self.next()
            if token.kind == lexer.SPACE:
                continue
            if token.kind in (lexer.RIGHT, lexer.RPAREN):
                self.index -= 1
            elif token.kind != lexer.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not command.args:
            raise self.error("empty command")
        return command

    def operand(self) -> Node | None:
        """A term, then any `.Field`s written right after it."""
        node = self.term()
        if node is None or self.peek().kind != lexer.FIELD:
            return node
        pos = self.peek().pos
        fields: list[str] = []
        while self.peek().kind == lexer.FIELD:
            fields.append(self.next().text[1:])
        if isinstance(node, Field):
            return Field(pos, node.names + tuple(fields))
        if isinstance(node, Variable):
            return Variable(pos, node.name, node.fields + tuple(fields))
        if isinstance(node, (Bool, String, Number, Nil, Dot)):
            raise self.error(f"unexpected . after term {quote(str(node))}")
        return Chain(pos, node, fields)

    def term(self) -> Node | None:
        token = self.next_non_space()
        kind, text, pos = token.kind, token.text, token.pos
        if kind == lexer.IDENT:
            if text not in self.functions:
                raise self.error(f'function "{text}" not defined')
            return Identifier(pos, text)
        if kind == lexer.VARIABLE:
            if text not in self.variables:
                raise self.error(f'undefined variable "{text}"')
            return Variable(pos, text)
        if kind in (lexer.NUMBER, lexer.RUNE):
            values = read_number(text)
            if values is None:
                what = (
                    "malformed character constant: "
                    if kind == lexer.RUNE
                    else "bad number syntax: "
                )
                raise self.error(what + (text if kind == lexer.RUNE else quote(text)))
            return Number(pos, text, *values)
        if kind in (lexer.STRING, lexer.RAW):
            value = read_quoted(text)
            if value is None:
                raise self.error("invalid syntax")
            return String(pos, text, value)
        if kind == lexer.FIELD:
            return Field(pos, [text[1:]])
        if kind == lexer.DOT:
            return Dot(pos)
        if kind == "nil":
            return Nil(pos)
        if kind == lexer.BOOL:
            return Bool(pos, text == "true")
        if kind == lexer.LPAREN:
            return self.pipeline("parenthesized pipeline", lexer.RPAREN)
        self.index -= 1
        return None


def parse(source: str, name: str, functions: Collection[str]) -> list[Node]:
    """The tree of a template whose actions may call `functions`; raises Go's parse errors."""
    return _Parser(source, name, functions).parse()
