"""Instruction flags (`--from=builder`, `--mount=type=cache,target=/x`), validated the way
BuildKit's `instructions/bflag.go` and `commands_runmount.go` do.

Each instruction declares the flags it takes and their kinds (boolean, one string, a
repeatable string); anything else is an error, so a typo like `COPY --form=builder` fails
at parse time with its line number instead of silently copying from the context.
"""

import csv
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, NamedTuple

from berth.errors import BerthError

Kind = Literal["bool", "string", "strings"]
FlagValue = bool | str | tuple[str, ...]

FROM_FLAGS: Mapping[str, Kind] = {"platform": "string"}
RUN_FLAGS: Mapping[str, Kind] = {"mount": "strings", "network": "string", "security": "string"}
COPY_FLAGS: Mapping[str, Kind] = {
    "from": "string",
    "chown": "string",
    "chmod": "string",
    "link": "bool",
    "parents": "bool",
    "exclude": "strings",
}
ADD_FLAGS: Mapping[str, Kind] = {
    "chown": "string",
    "chmod": "string",
    "link": "bool",
    "checksum": "string",
    "keep-git-dir": "bool",
    "unpack": "bool",
    "exclude": "strings",
}
HEALTHCHECK_FLAGS: Mapping[str, Kind] = {
    "interval": "string",
    "timeout": "string",
    "start-period": "string",
    "start-interval": "string",
    "retries": "string",
}
NETWORKS = ("default", "none", "host")
SECURITY = ("sandbox", "insecure")
MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")


def parse_flags(words: tuple[str, ...], allowed: Mapping[str, Kind]) -> dict[str, FlagValue]:
    """The values of `words` (`--name=value`, `--bool`), by name; raises ValueError with
    Docker's wording for an unknown, repeated or malformed flag."""
    values: dict[str, FlagValue] = {}
    for word in words:
        if word == "--":
            break
        if not word.startswith("--"):
            raise ValueError(f"arg should start with -- : {word}")
        spelled, has_value, value = word.partition("=")
        name = spelled[2:]
        kind = allowed.get(name)
        if kind is None:
            raise ValueError(f"unknown flag: {spelled}")
        if name in values and kind != "strings":
            raise ValueError(f"duplicate flag specified: {spelled}")
        if kind == "bool":
            if has_value and not value:
                raise ValueError(f"missing a value on flag: {spelled}")
            if value.lower() not in ("", "true", "false"):
                raise ValueError(f"expecting boolean value for flag {spelled}, not: {value}")
            values[name] = value.lower() != "false"
            continue
        if not has_value:
            raise ValueError(f"missing a value on flag: {spelled}")
        if kind == "string":
            values[name] = value
        else:
            previous = values.get(name, ())
            assert isinstance(previous, tuple)
            values[name] = (*previous, value)
    return values


class Mount(NamedTuple):
    """One `RUN --mount`, with BuildKit's defaults: a bind mount, read-only for bind, secret
    and ssh mounts, writable for cache and tmpfs. `size` is in bytes (tmpfs only)."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = ""
    readonly: bool = True
    required: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int = 0
    env: str | None = None


_KEYS = {"dst": "target", "destination": "target", "src": "source", "ro": "readonly"}
_KEYS |= {"rw": "readwrite"}


def parse_mount(spec: str, expand: Callable[[str], str] = str) -> Mount:
    """A `--mount` value (CSV of key=value fields), each value passed through `expand` first.

    The parser checks a mount without variables with the identity; the executor parses it
    again with the stage's expansion (`scope.expand_word`) when it holds a `$`.
    """
    fields: dict[str, object] = {"type": "bind"}
    readonly: bool | None = None
    for item in next(csv.reader([spec])) if spec else []:
        key, has_value, value = item.partition("=")
        key = _KEYS.get(key.lower(), key.lower())
        mount_type = str(fields["type"])
        if not has_value:
            if key in ("readonly", "readwrite"):
                readonly = key == "readonly"
            elif key == "required" and mount_type in ("secret", "ssh"):
                fields["required"] = True
            elif key == "required":
                raise ValueError(f"unexpected key '{key}' for mount type '{mount_type}'")
            else:
                raise ValueError(f"invalid field '{item}' must be a key=value pair")
            continue
        if key == "from" and "$" in value[:-1]:
            raise ValueError(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        value = expand(value)
        if key == "type":
            if value.lower() not in MOUNT_TYPES:
                raise ValueError(f"unsupported mount type {value!r}")
            fields["type"] = value.lower()
        elif key in ("target", "source", "id", "env"):
            fields[key] = value
        elif key == "from":
            fields["from_"] = value
        elif key in ("readonly", "readwrite"):
            readonly = _bool(key, value) == (key == "readonly")
        elif key == "required" and mount_type in ("secret", "ssh"):
            fields["required"] = _bool(key, value)
        elif key == "size" and mount_type == "tmpfs":
            fields["size"] = parse_size(value)
        elif key in ("required", "size"):
            raise ValueError(f"unexpected key '{key}' for mount type '{mount_type}'")
        elif key == "sharing":
            if value.lower() not in SHARING:
                raise ValueError(f"unsupported sharing value {value!r}")
            fields["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            fields[key] = _number(key, value, 8 if key == "mode" else 10)
        else:
            raise ValueError(f"unexpected key '{key}' in '{item}'")
    return _checked(fields, readonly)


def _checked(fields: dict[str, object], readonly: bool | None) -> Mount:
    kind = str(fields["type"])
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if key in fields:
                raise ValueError(f"{key} not allowed for {kind!r} type mounts")
    if readonly is None:
        readonly = kind not in ("cache", "tmpfs")
    if kind == "secret":
        if fields.get("from_"):
            raise ValueError("secret mount should not have a from")
        if fields.get("sharing"):
            raise ValueError("secret mount should not define sharing")
        if not (fields.get("source") or fields.get("target") or fields.get("id")):
            raise ValueError("invalid secret mount. one of source, target required")
        if fields.get("source") and fields.get("id"):
            raise ValueError("both source and id can't be set")
    if fields.get("sharing") and kind != "cache":
        raise ValueError(f"invalid cache sharing set for {kind} mount")
    return Mount(readonly=readonly, **fields)  # type: ignore[arg-type]


def _bool(key: str, value: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def _number(key: str, value: str, base: int) -> int:
    try:
        number = int(value, base)
    except ValueError:
        number = -1
    if not 0 <= number < 2**32 or not value.isdigit():
        raise ValueError(f"invalid value {value} for {key}")
    return number


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9}
_UNITS |= {"m": 60 * 10**9, "h": 3600 * 10**9}


def parse_size(text: str) -> int:
    """A size like `64m` or `1GiB` in bytes, binary multiples (docker/go-units RAMInBytes)."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"invalid value for size: {text}")
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * 1024**power)


def parse_duration(text: str) -> int:
    """A Go duration (`30s`, `1m30s`, `1.5h`) in nanoseconds; "" and "0" are 0."""
    if text in ("", "0"):
        return 0
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f'time: invalid duration "{text}"')
    return int(total)


def mounted_from(specs: Sequence[str], expand: Callable[[str], str]) -> list[str]:
    """The stages or images RUN's `--mount=…,from=` options read (a malformed mount is the
    step's error to report, with its line)."""
    found = []
    for spec in specs:
        try:
            mount = parse_mount(spec, expand if "$" in spec else str)
        except BerthError:
            continue
        if mount.from_:
            found.append(mount.from_)
    return found
