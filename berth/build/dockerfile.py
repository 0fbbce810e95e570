"""Dockerfile text to a typed `Dockerfile`: the second half of parsing, instruction by
instruction, with the argument rules of BuildKit's `instructions/parse.go`.

`lines.Reader` has already turned the text into logical lines; here each one becomes an
`Instruction` with typed arguments (exec or shell form, key/value pairs, COPY sources and heredoc
sources, validated flags), FROM lines open stages, and ARGs before the first FROM become the
global args. Every error is a `DockerfileError` naming the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from berth.build import flags as fl
from berth.build.instructions import (
    Add,
    Arg,
    ArgDefinition,
    Arguments,
    Cmd,
    CommandLine,
    Copy,
    Dockerfile,
    DockerfileError,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Heredoc,
    InlineSource,
    Instruction,
    KeyValue,
    Label,
    Onbuild,
    Run,
    Shell,
    Stage,
    Value,
    Volume,
)
from berth.build.lines import (
    LogicalLine,
    Reader,
    json_words,
    parse_heredoc,
    parse_words,
    split_command,
)
from berth.errors import InvalidArgument

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_BLANKS = re.compile(r"[\t\v\f\r ]+")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


def parse(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile's text; `name` only prefixes error messages (`Dockerfile:7: ...`)."""

    def fail(line: int, message: str) -> DockerfileError:
        return DockerfileError(name, line, message)

    reader = Reader(text, fail)
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    last_line = 0
    for logical in reader:
        last_line = logical.start
        try:
            keyword = logical.keyword.upper()
            if keyword == "FROM":
                stages.append(_stage(logical, len(stages)))
                continue
            instruction = parse_instruction(logical, reader.escape)
        except ValueError as error:
            raise fail(logical.start, str(error)) from None
        if stages:
            stages[-1].instructions.append(instruction)
        elif isinstance(instruction.args, Arg):
            global_args.append(instruction)
        else:
            raise fail(logical.start, "no build stage in current context")
    if not stages:
        message = "file with no instructions" if not global_args else "no build stage"
        raise fail(max(last_line, 1), f"{message}: a Dockerfile needs a FROM")
    return Dockerfile(reader.directives, reader.escape, global_args, stages)


def _stage(logical: LogicalLine, index: int) -> Stage:
    values = fl.parse_flags(logical.flags, fl.FROM_FLAGS)
    words = _BLANKS.split(logical.rest) if logical.rest else []
    stage_name = ""
    if len(words) == 3 and words[1].lower() == "as":
        stage_name = words[2].lower()
        if not _STAGE_NAME.match(stage_name):
            raise ValueError(
                f"invalid name for build stage: {words[2]!r}, name can't start with a number "
                "or contain symbols"
            )
    elif len(words) != 1:
        raise ValueError("FROM requires either one or three arguments")
    platform = values.get("platform", "")
    assert isinstance(platform, str)
    return Stage(words[0], stage_name, platform, logical.start, logical.text.strip(), index)


def parse_instruction(logical: LogicalLine, escape: str = "\\") -> Instruction:
    """One logical line (not FROM) as an `Instruction`; raises ValueError on bad arguments."""
    keyword = logical.keyword.upper()
    parser = _PARSERS.get(keyword)
    if parser is None:
        raise ValueError(f"unknown instruction: {logical.keyword}")
    args = parser(logical, escape)
    return Instruction(keyword, logical.start, logical.text, logical.flags, args, logical.heredocs)


def _no_flags(logical: LogicalLine) -> None:
    fl.parse_flags(logical.flags, {})


def _command(logical: LogicalLine) -> CommandLine:
    """Exec form when the rest is a JSON array of strings, else shell form."""
    words = json_words(logical.rest)
    if words is not None:
        return CommandLine(words, shell=False)
    return CommandLine((logical.rest,) if logical.rest else (), shell=True)


def _run(logical: LogicalLine, escape: str) -> Run:
    values = fl.parse_flags(logical.flags, fl.RUN_FLAGS)
    network = str(values.get("network", "default"))
    if network not in fl.NETWORKS:
        raise ValueError(f"invalid network mode {network!r}")
    security = str(values.get("security", "sandbox"))
    if security not in fl.SECURITY:
        raise ValueError(f"security {security!r} is not valid")
    mounts = values.get("mount", ())
    assert isinstance(mounts, tuple)
    for spec in mounts:
        if "$" not in spec:
            fl.parse_mount(spec)
    command = _command(logical)
    if not command.words:
        raise ValueError("RUN requires at least one argument")
    return Run(command, mounts, network, security)


def _cmd(logical: LogicalLine, escape: str) -> Cmd:
    _no_flags(logical)
    return Cmd(_command(logical))


def _entrypoint(logical: LogicalLine, escape: str) -> Entrypoint:
    _no_flags(logical)
    return Entrypoint(_command(logical))


def _shell(logical: LogicalLine, escape: str) -> Shell:
    _no_flags(logical)
    words = json_words(logical.rest)
    if not logical.rest or words == ():
        raise ValueError("SHELL requires at least one argument")
    if words is None:
        raise ValueError(f"SHELL requires the arguments to be in JSON form: {logical.text}")
    return Shell(words)


def _pairs(logical: LogicalLine, escape: str) -> tuple[KeyValue, ...]:
    """ENV/LABEL: `k=v k2="v 2"` pairs, or the legacy `k value with spaces` form."""
    keyword = logical.keyword.upper()
    _no_flags(logical)
    words = parse_words(logical.rest, escape)
    if not words:
        raise ValueError(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = _BLANKS.split(logical.rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{keyword} must have two arguments")
        return (KeyValue(parts[0], parts[1], legacy=True),)
    pairs = []
    for word in words:
        key, has_value, value = word.partition("=")
        if not has_value:
            raise ValueError(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        if not key:
            raise ValueError(f"{keyword} names can not be blank")
        pairs.append(KeyValue(key, value))
    return tuple(pairs)


def _env(logical: LogicalLine, escape: str) -> Env:
    return Env(_pairs(logical, escape))


def _label(logical: LogicalLine, escape: str) -> Label:
    return Label(_pairs(logical, escape))


def _arg(logical: LogicalLine, escape: str) -> Arg:
    _no_flags(logical)
    definitions = []
    for word in parse_words(logical.rest, escape):
        key, has_value, value = word.partition("=")
        if not key:
            raise ValueError("ARG names can not be blank")
        definitions.append(ArgDefinition(key, value if has_value else None))
    if not definitions:
        raise ValueError("ARG requires at least one argument")
    return Arg(tuple(definitions))


def _list(logical: LogicalLine) -> tuple[str, ...]:
    """ADD/COPY/VOLUME: a JSON array, or whitespace-separated words."""
    words = json_words(logical.rest)
    if words is not None:
        return words
    return tuple(_BLANKS.split(logical.rest)) if logical.rest else ()


def _sources(
    logical: LogicalLine, keyword: str
) -> tuple[tuple[str, ...], tuple[InlineSource, ...], str]:
    words = _list(logical)
    if len(words) < 2:
        raise ValueError(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    if parse_heredoc(words[-1]) is not None:
        raise ValueError(f"{keyword} cannot accept a heredoc as a destination")
    bodies = {doc.name: doc for doc in logical.heredocs}
    paths: list[str] = []
    inline: list[InlineSource] = []
    for word in words[:-1]:
        opened = parse_heredoc(word) if bodies else None
        if opened is None:
            paths.append(word)
            continue
        body = bodies.get(opened.name, opened)
        doc = Heredoc(opened.name, body.content, opened.expand, opened.chomp)
        inline.append(InlineSource(doc.name, doc.text, doc.expand))
    return tuple(paths), tuple(inline), words[-1]


def _copy(logical: LogicalLine, escape: str) -> Copy:
    values = fl.parse_flags(logical.flags, fl.COPY_FLAGS)
    sources, inline, dest = _sources(logical, "COPY")
    excludes = values.get("exclude", ())
    assert isinstance(excludes, tuple)
    return Copy(
        sources,
        dest,
        inline,
        from_=str(values.get("from", "")),
        chown=str(values.get("chown", "")),
        chmod=str(values.get("chmod", "")),
        link=values.get("link") is True,
        parents=values.get("parents") is True,
        excludes=excludes,
    )


def _add(logical: LogicalLine, escape: str) -> Add:
    values = fl.parse_flags(logical.flags, fl.ADD_FLAGS)
    sources, inline, dest = _sources(logical, "ADD")
    excludes = values.get("exclude", ())
    assert isinstance(excludes, tuple)
    keep_git, unpack = values.get("keep-git-dir"), values.get("unpack")
    return Add(
        sources,
        dest,
        inline,
        chown=str(values.get("chown", "")),
        chmod=str(values.get("chmod", "")),
        link=values.get("link") is True,
        checksum=str(values.get("checksum", "")),
        keep_git_dir=keep_git if isinstance(keep_git, bool) else None,
        unpack=unpack if isinstance(unpack, bool) else None,
        excludes=excludes,
    )


def _expose(logical: LogicalLine, escape: str) -> Expose:
    _no_flags(logical)
    if not logical.rest:
        raise ValueError("EXPOSE requires at least one argument")
    return Expose(tuple(_BLANKS.split(logical.rest)))


def _volume(logical: LogicalLine, escape: str) -> Volume:
    _no_flags(logical)
    paths = tuple(path.strip() for path in _list(logical))
    if not paths:
        raise ValueError("VOLUME requires at least one argument")
    if "" in paths:
        raise ValueError("VOLUME specified can not be an empty string")
    return Volume(paths)


def _value(logical: LogicalLine, escape: str) -> Value:
    """USER, WORKDIR, STOPSIGNAL, MAINTAINER: the rest of the line is the one argument."""
    _no_flags(logical)
    if not logical.rest:
        raise ValueError(f"{logical.keyword.upper()} requires exactly one argument")
    return Value(logical.rest)


def _healthcheck(logical: LogicalLine, escape: str) -> Healthcheck:
    values = fl.parse_flags(logical.flags, fl.HEALTHCHECK_FLAGS)
    parts = _BLANKS.split(logical.rest, maxsplit=1)
    kind, rest = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    if not kind:
        raise ValueError("HEALTHCHECK requires at least one argument")
    if kind.upper() == "NONE":
        if rest:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(("NONE",))
    if kind.upper() != "CMD":
        raise ValueError(f'Unknown type "{kind.upper()}" in HEALTHCHECK (try CMD)')
    command = _command(LogicalLine(logical.start, logical.text, "CMD", (), rest, ()))
    if not command.words:
        raise ValueError("Missing command after HEALTHCHECK CMD")
    test = ("CMD-SHELL", *command.words) if command.shell else ("CMD", *command.words)
    durations = {}
    for flag in ("interval", "timeout", "start-period", "start-interval"):
        nanoseconds = fl.parse_duration(str(values.get(flag, "")))
        if 0 < nanoseconds < 1_000_000:
            raise ValueError(f'Interval "{flag}" cannot be less than 1ms')
        durations[flag.replace("-", "_")] = nanoseconds
    retries = str(values.get("retries", "")) or "0"
    if not re.fullmatch(r"[+-]?\d+", retries):
        raise ValueError(f'strconv.ParseInt: parsing "{retries}": invalid syntax')
    if int(retries) < 0:
        raise ValueError(f"--retries cannot be negative ({int(retries)})")
    return Healthcheck(test, retries=int(retries), **durations)


def _onbuild(logical: LogicalLine, escape: str) -> Onbuild:
    _no_flags(logical)
    if not logical.rest:
        raise ValueError("ONBUILD requires at least one argument")
    keyword, flags, rest = split_command(logical.rest, escape)
    trigger_keyword = keyword.upper()
    if trigger_keyword == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger_keyword in ("MAINTAINER", "FROM"):
        raise ValueError(f"{trigger_keyword} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", logical.text, count=1)
    for doc in logical.heredocs:
        expression += "\n" + doc.content + doc.name
    inner = LogicalLine(logical.start, logical.rest, keyword, flags, rest, logical.heredocs)
    return Onbuild(expression, parse_instruction(inner, escape))


_PARSERS: dict[str, Callable[[LogicalLine, str], Arguments]] = {
    "RUN": _run,
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "SHELL": _shell,
    "ENV": _env,
    "LABEL": _label,
    "ARG": _arg,
    "COPY": _copy,
    "ADD": _add,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "USER": _value,
    "WORKDIR": _value,
    "STOPSIGNAL": _value,
    "MAINTAINER": _value,
    "HEALTHCHECK": _healthcheck,
    "ONBUILD": _onbuild,
}


def parse_triggers(
    expressions: list[str], *, name: str = "ONBUILD", allowed: frozenset[str] | None = None
) -> list[Instruction]:
    """A base image's `OnBuild` triggers as instructions, for a build that starts FROM it
    (Docker runs them right after the FROM). Each expression may carry heredoc bodies.
    `allowed` (`commit`/`import --change`, no triggers): the only keywords taken."""

    def fail(line: int, message: str) -> DockerfileError:
        return DockerfileError(name, line, message)

    triggers = []
    for number, expression in enumerate(expressions, start=1):
        for logical in Reader(expression, fail):
            keyword = logical.keyword.upper()
            if allowed is not None and keyword not in allowed:
                raise InvalidArgument(f"{keyword} is not a valid change command")
            if allowed is None and keyword in ("ONBUILD", "FROM", "MAINTAINER"):
                raise fail(number, f"{keyword} isn't allowed as an ONBUILD trigger")
            try:
                triggers.append(parse_instruction(logical))
            except ValueError as error:
                raise fail(number, str(error)) from None
    return triggers
