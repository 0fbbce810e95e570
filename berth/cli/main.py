"""Entry point of `berth`: global options, then the chosen command, imported lazily."""

from __future__ import annotations

import _signal
import sys

from berth import __version__
from berth.cli.handoff import VALUED_OPTIONS
from berth.cli.table import COMMANDS, GROUP_SUMMARIES, GROUPS, Command
from berth.cli.usage import UsageError, report_usage_error, unknown_flag
from berth.errors import BerthError, exit_code

# Not typing's constant: typing (and the re it imports) costs ~5 ms of every command's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import NoReturn

    from berth.container.copy_client import CopyServer
    from berth.monitor.launch import MonitorLauncher

_GLOBAL_USAGE = """\
Usage:  berth [OPTIONS] COMMAND

A daemonless container engine that speaks Docker's language

Options:
      --root string        Persistent state directory (default /var/lib/berth, env BERTH_ROOT)
      --runroot string     Runtime state directory (default /run/berth, env BERTH_RUNROOT)
      --log-level string   Set the logging level ("debug"|"info"|"warn"|"error") (default "warn")
  -v, --version            Print version information and quit
  -h, --help               Print usage
"""


def _usage() -> str:
    lines = [_GLOBAL_USAGE, "Commands:"]
    lines += [f"  {name:<10} {command.summary}" for name, command in sorted(COMMANDS.items())]
    lines += ["", "Management Commands:"]
    lines += [f"  {name:<10} {summary}" for name, summary in sorted(GROUP_SUMMARIES.items())]
    lines += ["", "Run 'berth COMMAND --help' for more information on a command."]
    return "\n".join(lines)


def _split_globals(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Global options before the command word; everything from the command on is its own."""
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        word = argv[index]
        if not word.startswith("-") or word == "-":
            break
        name, eq, value = word.partition("=")
        if name in VALUED_OPTIONS:
            if not eq:
                index += 1
                if index >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}", "berth")
                value = argv[index]
            options[name.lstrip("-").replace("-", "_")] = value
        elif word in ("-v", "--version", "-h", "--help"):
            options[word.lstrip("-")[0]] = ""
        else:
            raise unknown_flag(word, "berth")
        index += 1
    return options, list(argv[index:])


def _resolve(words: list[str]) -> tuple[Command, str, list[str]] | None:
    if not words:
        return None
    first = words[0]
    if first in GROUPS:
        group = GROUPS[first]
        if len(words) < 2 or words[1] not in group:
            return None
        return group[words[1]], f"berth {first} {words[1]}", words[2:]
    if first in COMMANDS:
        return COMMANDS[first], f"berth {first}", words[1:]
    return None


def _unresolved(words: list[str]) -> int:
    """A group alone or with --help prints its usage; an unknown flag exits 125 and an
    unknown command 1, in the docker CLI's words."""
    group = words[0] if words[0] in GROUPS else None
    if group is not None and (len(words) == 1 or words[1] in ("-h", "--help")):
        print(_group_usage(group))
        return 0
    if group is not None and words[1].startswith("-") and words[1] != "-":
        return report_usage_error(unknown_flag(words[1], f"berth {group}"))
    where = "berth" if group is None else f"berth {group}"
    named = " ".join(words[: 1 if group is None else 2])
    print(f"berth: unknown command: berth {named}", file=sys.stderr)
    if group is not None:
        print(f"\nUsage:  {where}", file=sys.stderr)
    print(f"\nRun '{where} --help' for more information", file=sys.stderr)
    return 1


def _group_usage(group: str) -> str:
    lines = [f"Usage:  berth {group} COMMAND", "", GROUP_SUMMARIES[group], "", "Commands:"]
    seen: set[str] = set()
    for name, command in GROUPS[group].items():
        if command.module not in seen:
            seen.add(command.module)
            lines.append(f"  {name:<10} {command.summary}")
    return "\n".join(lines)


def _configure_logging(level: str) -> None:
    """Only when asked: importing logging costs ~10 ms of every command's start-up."""
    import logging

    name = {"WARN": "WARNING"}.get(level.upper(), level.upper())
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise UsageError(f'invalid log level "{level}"', "berth")
    logging.basicConfig(level=name, format="%(levelname)s %(name)s: %(message)s")


def _prestart_monitor(
    options: dict[str, str], module: ModuleType, parsed: argparse.Namespace
) -> MonitorLauncher | None:
    """A monitor started now imports on the other core while this process prepares the
    container (see `berth.monitor.launch`); if it can't start, the start makes a new one.
    Where conmon holds containers (`berth.monitor.choice`), only for a command whose
    container it doesn't (its `needs_own_monitor`: a foreground `run` without `-it`)."""
    from berth import store_choice
    from berth.monitor.choice import conmon_wanted
    from berth.monitor.launch import MonitorLauncher

    needs = getattr(module, "needs_own_monitor", None)
    if conmon_wanted() and not (needs is not None and needs(parsed)):
        return None
    _, runroot = store_choice.chosen(options.get("root"), options.get("runroot"))
    try:
        return MonitorLauncher(runroot)
    except BerthError:
        return None


def _prestart_copier() -> CopyServer | None:
    """`build`'s copy server, started now so that its interpreter starts on the other core
    while the build imports and hashes its context (unused, it is killed: see CopyServer)."""
    from berth.container.copy_client import CopyServer

    try:
        return CopyServer()
    except BerthError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        options, words = _split_globals(arguments)
    except UsageError as error:
        return report_usage_error(error)
    if "v" in options:
        print(f"berth version {__version__}")
        return 0
    if "h" in options or not words:
        print(_usage())
        return 0
    resolved = _resolve(words)
    if resolved is None:
        return _unresolved(words)

    if "log_level" in options:
        try:
            _configure_logging(options["log_level"])
        except UsageError as error:
            return report_usage_error(error)
    command, prog, rest = resolved
    name = f"berth.cli.commands.{command.module}"
    __import__(name)  # not importlib's import_module: that package costs ~0.5 ms a command
    module = sys.modules[name]
    if hasattr(module, "quick") and "log_level" not in options:
        # Before the helpers start: a spawned copier slowed a replayed build by 6-9 ms, and
        # starting it ~10 ms later changed nothing measurable in a build that runs (A/B).
        answered = _quickly(module, options, rest)
        if answered is not None:
            return answered
    copier = _prestart_copier() if command.prestarts_copier else None
    from berth.cli.context import Context
    from berth.layout import Layout

    layout = Layout.from_env(options.get("root"), options.get("runroot"))
    context = Context(layout, None, copier)
    try:
        # Ctrl-C ended the command quietly until now (berth.cli.start); from here on it is a
        # KeyboardInterrupt the command may clean up after, and exit 130.
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        parsed = module.build_parser(prog, command.summary).parse_args(rest)
        if command.prestarts_monitor:
            context.launcher = _prestart_monitor(options, module, parsed)
        return int(module.run(parsed, context))
    except UsageError as error:
        return report_usage_error(error)
    except BerthError as error:
        return _report(error, command.starts_container)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:  # the host refused something no layer expected to fail
        from berth.errors import from_os_error

        return _report(from_os_error(error), command.starts_container)
    except Exception as error:  # the top of the CLI: never show a user a traceback
        if options.get("log_level", "").lower() == "debug":
            import traceback

            traceback.print_exc()
        print(f"Error: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("Run with --log-level debug for details.", file=sys.stderr)
        return 1
    finally:
        context.close()


def _quickly(module: ModuleType, options: dict[str, str], words: list[str]) -> int | None:
    """A command's answer without the engine, for the words it knows how to answer so
    (`ps`: the usual listing, berth.cli.commands.ps); None: the command runs as usual, and
    says what went wrong, if anything did."""
    try:
        answered: int | None = module.quick(options.get("root"), options.get("runroot"), words)
    except BrokenPipeError:
        return 0
    return answered


def _report(error: BerthError, starting_container: bool) -> int:
    print(f"Error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"Hint: {error.hint}", file=sys.stderr)
    return exit_code(error, starting_container=starting_container)


def entry(then: Callable[[], None] | None = None) -> NoReturn:
    """The `berth` executable: `main`, then `then` (the start of a preloaded CLI for the
    next command: `berth.cli.handoff`), then out without the interpreter's teardown."""
    code = main()
    if then is not None:
        then()
    from berth.process_exit import exit_now  # not before main: it would delay the spawn

    exit_now(code)
