"""The parse tree of a Go template, and its literals read as Go reads them.

Each node keeps its byte position (for Go's `template: :LINE:COL:` in errors) and prints
itself as Go's parse tree does (the `<...>` in `executing "" at <.Nope>`).
"""

from __future__ import annotations

from collections.abc import Sequence


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text


class Dot(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class Nil(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class Bool(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class Number(Node):
    """A numeric constant: `integer` when it is one (3, 0x1F, 'a'), `floating` when it reads
    as a float (1.5, 1e3, and every integer too); Go's ideal constant picks between them."""

    __slots__ = ("floating", "integer", "text")

    def __init__(self, pos: int, text: str, integer: int | None, floating: float | None) -> None:
        super().__init__(pos)
        self.text = text
        self.integer = integer
        self.floating = floating

    def ideal(self) -> int | float:
        """The constant where no type is asked for: a float if written as one, else an int."""
        hex_int = self.text.lstrip("+-")[:2] in ("0x", "0X") and not set("pP") & set(self.text)
        written_float = not hex_int and not self.text.startswith("'")
        if self.floating is not None and written_float and set(".eEpP") & set(self.text):
            return self.floating
        return self.integer if self.integer is not None else 0

    def __str__(self) -> str:
        return self.text


class String(Node):
    __slots__ = ("text", "value")

    def __init__(self, pos: int, text: str, value: str) -> None:
        super().__init__(pos)
        self.text = text
        self.value = value

    def __str__(self) -> str:
        return self.text


class Identifier(Node):
    """A function's name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class Field(Node):
    """`.A.B`: fields of dot."""

    __slots__ = ("names",)

    def __init__(self, pos: int, names: Sequence[str]) -> None:
        super().__init__(pos)
        self.names = tuple(names)

    def __str__(self) -> str:
        return "".join("." + name for name in self.names)


class Variable(Node):
    """`$x.A.B`: a variable, then fields of its value."""

    __slots__ = ("fields", "name")

    def __init__(self, pos: int, name: str, fields: Sequence[str] = ()) -> None:
        super().__init__(pos)
        self.name = name
        self.fields = tuple(fields)

    def __str__(self) -> str:
        return self.name + "".join("." + name for name in self.fields)


class Chain(Node):
    """`(pipeline).A.B`: fields of a parenthesised pipeline's value."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: Sequence[str]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = tuple(fields)

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return inner + "".join("." + name for name in self.fields)


class Command(Node):
    """One stage of a pipeline: an operand, or a function or method and its arguments."""

    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, Pipe) else str(arg) for arg in self.args)


class Pipe(Node):
    """Commands joined by `|`, maybe declaring (`:=`) or assigning (`=`) variables."""

    __slots__ = ("assign", "commands", "decl")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[str] = []
        self.assign = False
        self.commands: list[Command] = []

    def __str__(self) -> str:
        text = " | ".join(str(command) for command in self.commands)
        if self.decl:
            return ", ".join(self.decl) + (" = " if self.assign else " := ") + text
        return text


class Action(Node):
    """`{{pipeline}}`: prints the value unless the pipeline declares a variable."""

    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: Pipe) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class Branch(Node):
    """`{{if}}`, `{{with}}` or `{{range}}`: a body, and the `{{else}}` list if any."""

    __slots__ = ("body", "kind", "otherwise", "pipe")

    def __init__(self, kind: str, pipe: Pipe, body: list[Node], otherwise: list[Node]) -> None:
        super().__init__(pipe.pos)
        self.kind = kind
        self.pipe = pipe
        self.body = body
        self.otherwise = otherwise


class Break(Node):
    __slots__ = ()


class Continue(Node):
    __slots__ = ()


def read_number(text: str) -> tuple[int | None, float | None] | None:
    """A number literal's values as Go's parser converts it; None if it isn't one."""
    if text.startswith("'"):
        value = read_quoted(text)
        if value is None or len(value) != 1:
            return None
        return ord(value), float(ord(value))
    digits = text.lstrip("+-")
    integer: int | None = None
    try:
        if len(digits) > 1 and digits[0] == "0" and digits.replace("_", "").isdigit():
            integer = int(text, 8)  # Go's base 0: a leading 0 is octal
        else:
            integer = int(text, 0)
    except ValueError:
        pass
    if integer is not None:
        return integer, float(integer)
    try:
        hex_float = digits[:2] in ("0x", "0X")
        floating = float.fromhex(text) if hex_float else float(text)
    except ValueError:
        return None
    return None, floating


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_HEX_LENGTHS = {"x": 2, "u": 4, "U": 8}


def read_quoted(text: str) -> str | None:
    """Go's strconv.Unquote of "...", `...` or '.'; None for invalid syntax."""
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body.replace("\r", "")
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        i += 1
        if char != "\\":
            out += char.encode()
            continue
        code = body[i : i + 1]
        i += 1
        if code in _ESCAPES or code == quote:
            out.append(_ESCAPES.get(code, ord(code)))
        elif code in _HEX_LENGTHS:
            digits = body[i : i + _HEX_LENGTHS[code]]
            i += len(digits)
            if len(digits) < _HEX_LENGTHS[code] or not _is_hex(digits):
                return None
            value = int(digits, 16)
            if code == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value < 0xE000:
                return None
            else:
                out += chr(value).encode()
        elif code and code in "01234567" and len(body[i - 1 : i + 2]) == 3:
            value = int(body[i - 1 : i + 2], 8) if _is_octal(body[i - 1 : i + 2]) else 256
            if value > 255:
                return None
            out.append(value)
            i += 2
        else:
            return None
    return out.decode("utf-8", "replace")


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)


def _is_octal(digits: str) -> bool:
    return all(c in "01234567" for c in digits)
