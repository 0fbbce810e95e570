"""What the metadata instructions do to an image's config — ENV, LABEL, EXPOSE, CMD,
ENTRYPOINT, VOLUME, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER — for a
build step and for `commit --change`. Pure: the config is Docker's `config` document (Env,
Cmd, …), changed in place; each application returns the history's `created_by` as BuildKit
writes it (`ENV A=1`, `CMD ["sh" "-c" "x"]`, `WORKDIR /app`).
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from berth.build.instructions import (
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Onbuild,
    Shell,
    Value,
    Volume,
)
from berth.build.scope import Scope
from berth.errors import InvalidArgument

DEFAULT_SHELL = ("/bin/sh", "-c")
METADATA = frozenset(
    {
        "ENV",
        "LABEL",
        "EXPOSE",
        "CMD",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
        "MAINTAINER",
    }
)
# What `commit --change` and `import --change` take, as Docker's (validCommitCommands).
COMMIT_CHANGES = frozenset(
    {
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "ONBUILD",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
PROTOCOLS = ("tcp", "udp", "sctp")


def quoted(words: list[str] | tuple[str, ...]) -> str:
    """Go's `%q` of a string slice: `["a" "b c"]`."""
    return "[" + " ".join(json.dumps(word, ensure_ascii=False) for word in words) + "]"


def set_env(config: dict[str, Any], key: str, value: str) -> None:
    """Set `key` in the config's Env list, in place if it is there."""
    entries = list(config.get("Env") or [])
    for index, entry in enumerate(entries):
        if entry.partition("=")[0] == key:
            entries[index] = f"{key}={value}"
            break
    else:
        entries.append(f"{key}={value}")
    config["Env"] = entries


def shell_of(config: dict[str, Any]) -> list[str]:
    return list(config.get("Shell") or DEFAULT_SHELL)


def command_words(config: dict[str, Any], words: tuple[str, ...], shell: bool) -> list[str]:
    """A CMD/ENTRYPOINT/RUN's argv: exec form as written, shell form as SHELL + [text]."""
    return [*shell_of(config), words[0]] if shell else list(words)


def apply(
    instruction: Instruction,
    config: dict[str, Any],
    scope: Scope,
    top: dict[str, Any],
    *,
    cmd_set: bool = False,
) -> str:
    """Apply a metadata instruction to `config` (and `top`, the config document's top level:
    MAINTAINER's author); returns its history line. `cmd_set`: a CMD came earlier in this
    stage (an ENTRYPOINT then keeps it; otherwise it drops the base image's)."""
    keyword, args = instruction.keyword, instruction.args
    if isinstance(args, Env):
        pairs = [(scope.expand_word(p.key), scope.expand_word(p.value)) for p in args.pairs]
        for key, value in pairs:
            if not key:
                raise InvalidArgument(f"line {instruction.line}: ENV names can not be blank")
            scope.set_env(key, value)
            set_env(config, key, value)
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(args, Label):
        pairs = [(scope.expand_word(p.key), scope.expand_word(p.value)) for p in args.pairs]
        labels = dict(config.get("Labels") or {})
        labels.update(pairs)
        config["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(args, Expose):
        exposed = dict(config.get("ExposedPorts") or {})
        for text in args.ports:
            for word in scope.expand_words(text):
                for port in _ports(word):
                    exposed[port] = {}
        config["ExposedPorts"] = exposed
        return "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted(exposed)) + "]"
    if isinstance(args, Cmd):
        words = command_words(config, args.command.words, args.command.shell)
        config["Cmd"] = words
        return f"CMD {quoted(words)}"
    if isinstance(args, Entrypoint):
        words = command_words(config, args.command.words, args.command.shell)
        config["Entrypoint"] = words
        if not cmd_set:
            config["Cmd"] = None  # the base image's CMD goes with its ENTRYPOINT
        return f"ENTRYPOINT {quoted(words)}"
    if isinstance(args, Volume):
        paths = [scope.expand_word(p) for p in args.paths]
        if any(not p for p in paths):
            raise InvalidArgument(f"line {instruction.line}: VOLUME specified can not be empty")
        volumes = dict(config.get("Volumes") or {})
        volumes.update({p: {} for p in paths})
        config["Volumes"] = volumes
        return f"VOLUME {quoted(paths)}".replace('"', "")
    if isinstance(args, Healthcheck):
        return _healthcheck(args, config)
    if isinstance(args, Shell):
        config["Shell"] = list(args.words)
        return f"SHELL {quoted(list(args.words))}".replace('"', "")
    if isinstance(args, Onbuild):
        config["OnBuild"] = [*(config.get("OnBuild") or []), args.expression]
        return f"ONBUILD {args.expression}"
    if isinstance(args, Value):
        return _value(keyword, scope.expand_word(args.text), config, top)
    raise InvalidArgument(f"line {instruction.line}: {keyword} changes no image config")


def _value(keyword: str, text: str, config: dict[str, Any], top: dict[str, Any]) -> str:
    if keyword == "USER":
        if not text:
            raise InvalidArgument("USER requires an argument")
        config["User"] = text
    elif keyword == "WORKDIR":
        if not text:
            raise InvalidArgument("WORKDIR requires an argument")
        config["WorkingDir"] = posixpath.normpath(
            posixpath.join(config.get("WorkingDir") or "/", text)
        )
        return f"WORKDIR {config['WorkingDir']}"
    elif keyword == "STOPSIGNAL":
        config["StopSignal"] = text
    elif keyword == "MAINTAINER":
        top["author"] = text
    return f"{keyword} {text}"


def _healthcheck(args: Healthcheck, config: dict[str, Any]) -> str:
    if args.test == ("NONE",):
        config["Healthcheck"] = {"Test": ["NONE"]}
        return 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
    check: dict[str, Any] = {"Test": list(args.test)}
    for name, value in (
        ("Interval", args.interval),
        ("Timeout", args.timeout),
        ("StartPeriod", args.start_period),
        ("StartInterval", args.start_interval),
        ("Retries", args.retries),
    ):
        if value:
            check[name] = value
    config["Healthcheck"] = check
    return f"HEALTHCHECK {quoted(list(args.test))}"


def _ports(word: str) -> list[str]:
    """EXPOSE's `80`, `80/udp`, `8000-8002/tcp` as ExposedPorts keys."""
    port, _, protocol = word.partition("/")
    protocol = (protocol or "tcp").lower()
    if protocol not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {protocol}")
    low, _, high = port.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {port}") from None
    if not 0 < first <= last <= 65535:
        raise InvalidArgument(f"invalid port range: {port}")
    return [f"{number}/{protocol}" for number in range(first, last + 1)]
