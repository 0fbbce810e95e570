"""The CLI's parser: Docker's bool flags (`--sig-proxy=false`, `-H IMAGE`)."""

import argparse

import pytest

from berth.cli.parser import add_bool_flag, new_parser
from berth.cli.usage import UsageError


def _parser() -> object:
    parser = new_parser("berth test", "a test command", short_help=False)
    add_bool_flag(parser, "-H", "--human", help="a bool flag")
    parser.add_argument("-e", action="append", default=[])
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)  # as run's
    return parser


@pytest.mark.parametrize(
    ("argv", "human", "image", "command"),
    [
        (["busybox"], True, "busybox", []),
        (["-H", "busybox"], True, "busybox", []),  # never the flag's value, as in Docker
        (["--human=false", "busybox"], False, "busybox", []),
        (["-H=0", "busybox"], False, "busybox", []),
        (["-e", "A=1", "-H", "busybox"], True, "busybox", []),
        (["busybox", "echo", "-H"], True, "busybox", ["echo", "-H"]),  # the container's
    ],
)
def test_bool_flags_as_docker(argv: list[str], human: bool, image: str, command: list[str]) -> None:
    parsed = _parser().parse_args(argv)  # type: ignore[attr-defined]
    assert (parsed.human, parsed.image, parsed.command) == (human, image, command)


def test_a_bool_flag_refuses_other_words() -> None:
    with pytest.raises(UsageError, match="invalid boolean value: 'maybe'"):
        _parser().parse_args(["--human=maybe", "busybox"])  # type: ignore[attr-defined]


def _run_like() -> object:
    parser = new_parser("berth run", "a command with look-alike flags", short_help=False)
    parser.add_argument("--privileged", action="store_true")
    parser.add_argument("--pids-limit", type=int)
    parser.add_argument("-i", action="store_true")
    parser.add_argument("-t", action="store_true")
    parser.add_argument("-e", action="append", default=[])
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--priv", "busybox"], "unknown flag: --priv"),  # never --privileged
        (["--pid", "host", "busybox"], "unknown flag: --pid"),  # never --pids-limit
        (["--priv=1", "busybox"], "unknown flag: --priv"),
        (["--priv"], "unknown flag: --priv"),  # named before the missing IMAGE
        (["-Z", "busybox"], "unknown shorthand flag: 'Z' in -Z"),
        (["-itZx", "busybox"], "unknown shorthand flag: 'Z' in -Zx"),
    ],
)
def test_flags_are_whole_words(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as refused:
        _run_like().parse_args(argv)  # type: ignore[attr-defined]
    assert (str(refused.value), refused.value.bare) == (message, True)


def test_short_clusters_and_values_still_parse() -> None:
    parsed = _run_like().parse_args(["-it", "-eA=1", "busybox", "sh", "--priv", "-Z"])  # type: ignore[attr-defined]
    assert (parsed.i, parsed.t, parsed.e) == (True, True, ["A=1"])
    assert parsed.command == ["sh", "--priv", "-Z"]  # the container's own words
