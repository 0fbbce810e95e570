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
