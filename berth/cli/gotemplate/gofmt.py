"""Go's fmt for template output: `%v` of any value, Sprint, Sprintln and Sprintf.

Floats print as Go prints them (`1e+06`, not `1000000.0`), maps as `map[k:v]` with sorted
keys, structs as `{v1 v2}`, slices as `[a b]`, nil as `<nil>`; a verb that doesn't fit
its operand gives Go's `%!d(string=web)`, a missing operand `%!s(MISSING)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from berth.cli.gotemplate.values import MISSING, go_type, is_struct

_NAMED_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}


class _Spec:
    """One `%` directive: its flags, width, precision and verb."""

    __slots__ = ("flags", "precision", "verb", "width")

    def __init__(
        self, verb: str, flags: str = "", width: int | None = None, precision: int | None = None
    ) -> None:
        self.verb = verb
        self.flags = flags
        self.width = width
        self.precision = precision

    def pad(self, text: str) -> str:
        if self.width is None or len(text) >= self.width:
            return text
        if "-" in self.flags:
            return text.ljust(self.width)
        return text.rjust(self.width, "0" if "0" in self.flags else " ")


_PLAIN = _Spec("v")


def format_value(value: object) -> str:
    """Go's `%v`: how a template prints a value."""
    return _format(value, _PLAIN, top=True)


def sprint(args: Sequence[object]) -> str:
    """Go's Sprint: operands side by side, with a space between two that aren't strings."""
    out: list[str] = []
    previous_string = True
    for arg in args:
        is_string = isinstance(arg, str)
        if out and not is_string and not previous_string:
            out.append(" ")
        out.append(format_value(arg))
        previous_string = is_string
    return "".join(out)


def sprintln(args: Sequence[object]) -> str:
    return " ".join(format_value(arg) for arg in args) + "\n"


def sprintf(template: str, args: Sequence[object]) -> str:
    """Go's Sprintf: flags `+- #0`, width and precision (digits or `*`), and the verbs."""
    out: list[str] = []
    used = 0
    i, end = 0, len(template)
    while i < end:
        percent = template.find("%", i)
        if percent < 0:
            out.append(template[i:])
            break
        out.append(template[i:percent])
        i = percent + 1
        flags = ""
        while i < end and template[i] in "+-# 0":
            flags += template[i]
            i += 1
        numbers: list[int | None] = []
        for kind in ("WIDTH", "PREC"):
            if kind == "PREC":
                if i >= end or template[i] != ".":
                    numbers.append(None)
                    break
                i += 1
            if i < end and template[i] == "*":
                i += 1
                star = _integer(args[used]) if used < len(args) else None
                used += 1
                if star is None or (kind == "PREC" and star < 0):
                    out.append(f"%!(BAD{kind})")
                    star = None
                elif star < 0:
                    flags, star = flags + "-", -star
                numbers.append(star)
                continue
            start = i
            while i < end and template[i].isdigit():
                i += 1
            numbers.append(int(template[start:i]) if i > start else (0 if kind == "PREC" else None))
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = template[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format(args[used], _Spec(verb, flags, numbers[0], numbers[1]), top=True))
            used += 1
    if used < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type(a)}={format_value(a)}" for a in args[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _format(value: object, spec: _Spec, *, top: bool) -> str:
    verb = spec.verb
    if verb == "T" and top:
        return spec.pad(go_type(value))
    if value is None or value is MISSING:
        return spec.pad("<nil>") if verb == "v" or not top else _bad(value, spec)
    if isinstance(value, bool):
        return spec.pad(str(value).lower()) if verb in "tv" else _bad(value, spec)
    if isinstance(value, int):
        return _format_int(value, spec)
    if isinstance(value, float):
        return _format_float(value, spec)
    if isinstance(value, str):
        return _format_str(value, spec)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_format(item, spec, top=False) for item in value) + "]"
    if isinstance(value, Mapping):
        if is_struct(value):
            named = "+" in spec.flags
            items = (
                (f"{k}:" if named else "") + _format(v, spec, top=False) for k, v in value.items()
            )
            return "{" + " ".join(items) + "}"
        pairs = (
            f"{_format(k, spec, top=False)}:{_format(value[k], spec, top=False)}"
            for k in sorted(value)
        )
        return "map[" + " ".join(pairs) + "]"
    return spec.pad(go_type(value))


def _bad(value: object, spec: _Spec) -> str:
    if value is None or value is MISSING:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({go_type(value)}={format_value(value)})"


def _signed(negative: bool, body: str, spec: _Spec, prefix: str = "") -> str:
    """A number's sign, prefix and digits, zero-filled to the width when `0` asks."""
    sign = "-" if negative else "+" if "+" in spec.flags else " " if " " in spec.flags else ""
    if "0" in spec.flags and "-" not in spec.flags and spec.width is not None:
        body = body.rjust(spec.width - len(sign) - len(prefix), "0")
    return _Spec(spec.verb, spec.flags.replace("0", ""), spec.width).pad(sign + prefix + body)


def _format_int(value: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "c":
        return spec.pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd")
    if verb == "q":
        return spec.pad(quote(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd", "'"))
    if verb == "U":
        return spec.pad(f"U+{value:04X}")
    bases = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}
    if verb not in bases:
        return _bad(value, spec)
    digits = format(abs(value), bases[verb])
    if spec.precision is not None:
        digits = "" if spec.precision == 0 and value == 0 else digits.rjust(spec.precision, "0")
        spec = _Spec(verb, spec.flags.replace("0", ""), spec.width)
    prefix = "0o" if verb == "O" else ""
    if "#" in spec.flags:
        prefixes = {"x": "0x", "X": "0X", "b": "0b", "o": "" if digits.startswith("0") else "0"}
        prefix = prefixes.get(verb, prefix)
    return _signed(value < 0, digits, spec, prefix)


def _format_float(value: float, spec: _Spec) -> str:
    verb = spec.verb
    if verb not in "vgGeEfF":
        return _bad(value, spec)
    if math.isinf(value) or math.isnan(value):
        text = "NaN" if math.isnan(value) else "Inf"
        sign = "-" if value < 0 else "+" if "+" in spec.flags or text == "Inf" else ""
        text = (sign if text == "Inf" or "+" in spec.flags else "") + text
        return _Spec(verb, spec.flags.replace("0", ""), spec.width).pad(text)
    if verb in "vgG" and spec.precision is None:
        body = shortest_float(abs(value))
        body = body.upper() if verb == "G" else body
    else:
        python_verb = {"F": "f", "v": "g"}.get(verb, verb)
        body = format(
            abs(value), f".{6 if spec.precision is None else spec.precision}{python_verb}"
        )
    return _signed(math.copysign(1, value) < 0, body, spec)


def _digits(value: float) -> tuple[str, int]:
    """The shortest decimal digits of a non-negative float that read back the same, and
    where the point goes: value = 0.DIGITS x 10**point."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    return digits.rstrip("0"), point


def _fixed(digits: str, point: int) -> str:
    if not digits:
        return "0"
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int, width: int) -> str:
    exp = point - 1
    head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{head}e{'-' if exp < 0 else '+'}{abs(exp):0{width}d}"


def shortest_float(value: float) -> str:
    """Go's %v of a non-negative float64: the shortest digits, with an exponent below 1e-4
    and from 1e6 on (1e+06 for a million, 123456 below)."""
    digits, point = _digits(value)
    if digits and not -4 <= point - 1 < 6:
        return _exponent(digits, point, 2)
    return _fixed(digits, point)


def json_float(value: float) -> str:
    """Go's encoding/json number: plain digits from 1e-6 up to 1e21, an exponent outside."""
    digits, point = _digits(abs(value))
    sign = "-" if value < 0 else ""
    if digits and not 1e-6 <= abs(value) < 1e21:
        return sign + _exponent(digits, point, 1)
    return sign + _fixed(digits, point)


def _format_str(value: str, spec: _Spec) -> str:
    verb = spec.verb
    text = value if spec.precision is None else value[: spec.precision]
    if verb in "vs":
        return spec.pad(text)
    if verb == "q":
        if "#" in spec.flags and "`" not in text and text.isprintable():
            return spec.pad(f"`{text}`")
        return spec.pad(quote(text, '"', ascii_only="+" in spec.flags))
    if verb in "xX":
        encoded = value.encode()[: spec.precision]
        digits = encoded.hex(" ") if " " in spec.flags else encoded.hex()
        digits = ("0x" if "#" in spec.flags else "") + digits
        return spec.pad(digits.upper() if verb == "X" else digits)
    return _bad(value, spec)


def quote(text: str, mark: str = '"', *, ascii_only: bool = False) -> str:
    """Go's strconv.Quote (or QuoteRune with mark `'`): Go escapes, printable runes kept."""
    out = [mark]
    for char in text:
        if char in (mark, "\\"):
            out.append("\\" + char)
        elif char in _NAMED_ESCAPES:
            out.append("\\" + _NAMED_ESCAPES[char])
        elif char.isprintable() and (char.isascii() or not ascii_only):
            out.append(char)
        elif ord(char) < 0x20 or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append(mark)
    return "".join(out)
