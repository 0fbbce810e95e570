"""Runs a parsed template on a value as Go's text/template executes it.

Fields of dicts, methods (Function values in a dict, such as a row's `Label`), function
calls with Go's argument checks, pipelines feeding the last argument, variables and their
scopes, `if`/`with`/`range` with `else`, `break` and `continue`. Errors read as Go's:
`template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from berth.cli.gotemplate.gofmt import format_value
from berth.cli.gotemplate.nodes import (
    Action,
    Bool,
    Branch,
    Break,
    Chain,
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
)
from berth.cli.gotemplate.values import MISSING, Function, go_type, is_struct, truth
from berth.errors import InvalidArgument

_NO_FINAL = object()  # a command that isn't fed by a previous one
_TYPES = {"string": str, "int": int}


class _Failure(InvalidArgument):
    """An execution error, already worded with its position (never wrapped again)."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _State:
    def __init__(
        self, name: str, source: str, functions: Mapping[str, Function], out: list[str]
    ) -> None:
        self.name = name
        self.source = source
        self.functions = functions
        self.out = out
        self.variables: list[list[object]] = []

    def error(self, node: Node, message: str) -> _Failure:
        before = self.source[: node.pos]
        line = before.count("\n") + 1
        column = len(before[before.rfind("\n") + 1 :].encode())
        where = f"{self.name}:{line}:{column}"
        return _Failure(f'template: {where}: executing "{self.name}" at <{node}>: {message}')

    def walk(self, dot: object, nodes: Sequence[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(self.printable(node, value))
            elif isinstance(node, Branch):
                self.branch(dot, node)
            elif isinstance(node, Break):
                raise _Break
            else:
                raise _Continue

    def printable(self, node: Action, value: object) -> str:
        if value is MISSING or value is None:
            return "<no value>"
        if isinstance(value, Function):
            raise self.error(node, f"can't print {node} of type func")
        return format_value(value)

    def branch(self, dot: object, node: Branch) -> None:
        mark = len(self.variables)
        try:
            value = self.pipeline(dot, node.pipe)
            if node.kind == "range":
                self.range(dot, node, value)
            elif truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            else:
                self.walk(dot, node.otherwise)
        finally:
            del self.variables[mark:]

    def range(self, dot: object, node: Branch, value: object) -> None:
        decl = node.pipe.decl
        items: Sequence[tuple[object, object]]
        if value is MISSING or value is None:
            items = ()
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = [(key, value[key]) for key in sorted(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                message = f"can't use {value} to iterate over more than one variable"
                raise self.error(node.pipe, message)
            items = [(i, i) for i in range(value)]
        else:
            raise self.error(node.pipe, f"range can't iterate over {format_value(value)}")
        if not items:
            self.walk(dot, node.otherwise)
            return
        mark = len(self.variables)
        for key, element in items:
            if decl:
                self.variables[mark - 1][1] = element
            if len(decl) > 1:
                self.variables[mark - 2][1] = key
            try:
                self.walk(element, node.body)
            except _Continue:
                continue
            except _Break:
                break
            finally:
                del self.variables[mark:]

    def pipeline(self, dot: object, pipe: Pipe) -> object:
        value: object = _NO_FINAL
        for command in pipe.commands:
            value = self.command(dot, command.args, value, command)
            if value is None:
                value = MISSING  # Go unwraps a nil interface to no value
        for name in pipe.decl:
            if pipe.assign:
                self.variable_slot(pipe, name)[1] = value
            else:
                self.variables.append([name, value])
        return value

    def variable_slot(self, node: Node, name: str) -> list[object]:
        for slot in reversed(self.variables):
            if slot[0] == name:
                return slot
        raise self.error(node, f"undefined variable: {name}")

    def command(self, dot: object, args: Sequence[Node], final: object, where: Node) -> object:
        """A command's value: `where` is the node a failed function call is reported at."""
        first = args[0]
        if isinstance(first, Field):
            return self.fields(dot, dot, first, first.names, args, final)
        if isinstance(first, Chain):
            if isinstance(first.node, Nil):
                raise self.error(first, f"indirection through explicit nil in {first}")
            receiver = self.evaluate(dot, first.node)
            return self.fields(dot, receiver, first, first.fields, args, final)
        if isinstance(first, Identifier):
            function = self.functions[first.name]
            return self.call(dot, first, function, first.name, args, final, where)
        if isinstance(first, Variable) and first.fields:
            value = self.variable_slot(first, first.name)[1]
            return self.fields(dot, value, first, first.fields, args, final)
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(first, f"can't give argument to non-function {first}")
        if isinstance(first, Nil):
            raise self.error(first, "nil is not a command")
        return self.evaluate(dot, first)

    def evaluate(self, dot: object, node: Node) -> object:
        """An operand's value, with no type asked for (constants are Go's ideal ones)."""
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Pipe):
            return self.pipeline(dot, node)
        if isinstance(node, Variable) and not node.fields:
            return self.variable_slot(node, node.name)[1]
        if isinstance(node, (Field, Chain, Identifier, Variable)):
            return self.command(dot, (node,), _NO_FINAL, node)
        if isinstance(node, (Bool, String)):
            return node.value
        if isinstance(node, Number):
            return node.ideal()
        return None  # nil

    def fields(
        self,
        dot: object,
        receiver: object,
        node: Node,
        names: Sequence[str],
        args: Sequence[Node],
        final: object,
    ) -> object:
        """`.A.B.C`: each field of the previous value; the last one gets the arguments."""
        for name in names[:-1]:
            receiver = self.field(dot, receiver, node, name, (node,), _NO_FINAL)
        return self.field(dot, receiver, node, names[-1], args, final)

    def field(
        self,
        dot: object,
        receiver: object,
        node: Node,
        name: str,
        args: Sequence[Node],
        final: object,
    ) -> object:
        if receiver is MISSING:
            return MISSING  # Go: a field of no value is no value
        if receiver is None:
            raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        if not isinstance(receiver, Mapping):  # a JSON value: Go's interface {}
            raise self.error(node, f"can't evaluate field {name} in type interface {{}}")
        if name in receiver:
            value = receiver[name]
            if isinstance(value, Function):
                return self.call(dot, node, value, name, args, final, node)
        elif is_struct(receiver):
            raise self.error(node, f'map has no entry for key "{name}"')
        else:
            value = MISSING
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(node, f"{name} is not a method but has arguments")
        return value

    def call(
        self,
        dot: object,
        node: Node,
        function: Function,
        name: str,
        args: Sequence[Node],
        final: object,
        where: Node,
    ) -> object:
        """A function or method call, its arguments checked and converted as Go's are."""
        operands = args[1:]
        given = len(operands) + (final is not _NO_FINAL)
        fixed = len(function.params)
        if function.variadic is not None and given < fixed:
            message = f"want at least {fixed} got {len(operands)}"
            raise self.error(node, f"wrong number of args for {name}: {message}")
        if function.variadic is None and given != fixed:
            raise self.error(node, f"wrong number of args for {name}: want {fixed} got {given}")
        kinds = [function.params[i] if i < fixed else str(function.variadic) for i in range(given)]
        thunks: list[Callable[[], object]] = [
            partial(self.argument, dot, operand, kind)
            for operand, kind in zip(operands, kinds, strict=False)
        ]
        if final is not _NO_FINAL:
            thunks.append(partial(self.check, node, final, kinds[-1]))
        values = thunks if function.lazy else [thunk() for thunk in thunks]
        try:
            return function.call(*values)
        except _Failure:
            raise
        except InvalidArgument as error:
            raise self.error(where, f"error calling {name}: {error.message}") from None

    def argument(self, dot: object, node: Node, kind: str) -> object:
        """An argument for a parameter of `kind`: constants must fit it, values must be it."""
        if isinstance(node, (Dot, Field, Variable, Pipe, Identifier, Chain)):
            return self.check(node, self.evaluate(dot, node), kind)
        if isinstance(node, Nil):
            if kind == "any":
                return None
            raise self.error(node, f"cannot assign nil to {kind}")
        if kind == "string" and not isinstance(node, String):
            raise self.error(node, f"expected string; found {node}")
        if kind == "int":
            if isinstance(node, Number) and node.integer is not None:
                return node.integer
            raise self.error(node, f"expected integer; found {node}")
        return self.evaluate(dot, node)

    def check(self, node: Node, value: object, kind: str) -> object:
        if kind == "any":
            return None if value is MISSING else value
        if value is MISSING:
            raise self.error(node, f"invalid value; expected {kind}")
        if not isinstance(value, _TYPES[kind]) or isinstance(value, bool):
            got = "interface {}" if value is None else go_type(value)  # a JSON null
            message = f"wrong type for value; expected {kind}; got {got}"
            raise self.error(node, message)
        return value


def execute(
    nodes: Sequence[Node],
    dot: object,
    *,
    name: str,
    source: str,
    functions: Mapping[str, Function],
    out: list[str],
) -> None:
    """Append the output of the template to `out`; raises InvalidArgument (what was
    written before the error stays in `out`, as Go's output does)."""
    state = _State(name, source, functions, out)
    state.variables.append(["$", dot])
    state.walk(dot, nodes)
