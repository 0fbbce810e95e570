"""Docker's variable substitution (BuildKit's shell lexer) and the ARG/ENV scoping rules,
with the examples of the Dockerfile reference."""

from __future__ import annotations

import textwrap

import pytest

from berth.build import Scope, parse, platform_args, process_word, process_words
from berth.build.instructions import Arg, Env, Run, Value
from berth.errors import InvalidArgument

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "KOREAN": "한국어"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he\\'llo", "he'llo"),
        ("abc\\tdef", "abctdef"),
        ('"abc\\tdef"', "abc\\tdef"),
        ('"abc\\\\tdef"', "abc\\tdef"),
        ("'abc\\tdef'", "abc\\tdef"),
        ("hello\\", "hello"),
        ("hello\\\\", "hello\\"),
        ('"hel\'lo"', "hel'lo"),
        ("'hello\\'", "hello\\"),
        ("$.", "$."),
        ("he$1x", "hex"),
        ("he$pwd.", "he."),
        ("he$PWD", "he/home"),
        ("he\\$PWD", "he$PWD"),
        ("he\\\\$PWD", "he\\/home"),
        ('"he\\$PWD"', "he$PWD"),
        ("'he\\$PWD'", "he\\$PWD"),
        ("\\${}", "${}"),
        ("he${hi}xx", "hexx"),
        ("he${PWD}", "he/home"),
        ("he${XXX:-000}xx", "he000xx"),
        ("he${PWD:-000}xx", "he/homexx"),
        ("he${XXX:-$PWD}xx", "he/homexx"),
        ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
        ("he${NULL:-dflt}", "hedflt"),
        ("he${NULL-dflt}", "he"),
        ("he${XXX-dflt}", "hedflt"),
        ("he${PWD?}", "he/home"),
        ("he${NULL?}", "he"),
        ("he${XXX:+${PWD}}xx", "hexx"),
        ("he${PWD:+${SHELL}}xx", "hebashxx"),
        ("he${NULL+set}", "heset"),
        ("he${NULL:+set}", "he"),
        ("'he${XX}'", "he${XX}"),
        ("\"he'$PWD'\"", "he'/home'"),
        ("he${PWD:+${PWD}:}xx", "he/home:xx"),
        ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
        ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
        ("안녕$KOREAN", "안녕한국어"),
        ("${aaa}}", "}"),
        ("${aaa:-bbb {foo}", "bbb {foo"),
        ("${1:-bbb}", "bbb"),
        ("${PWD#/h}", "ome"),
        ("${PWD%me}", "/ho"),
        ("${SHELL/a/A}", "bAsh"),
    ],
)
def test_process_word(text: str, expected: str) -> None:
    assert process_word(text, ENV) == expected


@pytest.mark.parametrize(
    "text",
    [
        "he'llo",
        '"hello',
        '"hello\\"',
        "'hello",
        "${}",
        "he${}xx",
        "he${.}",
        "he${XXX:YYY}",
        "he${XXX?}",
        "he${XXX:?}",
        "he${NULL:?}",
        "he${PWD",
        "he${PWD:=000}xx",
        "${{aaa}",
        "${aaa:-bbb ${foo}",
        "${:}",
        "${:-bbb}",
    ],
)
def test_bad_substitutions_are_errors(text: str) -> None:
    with pytest.raises(InvalidArgument, match="failed to process"):
        process_word(text, ENV)


def test_the_question_mark_carries_its_message() -> None:
    with pytest.raises(InvalidArgument, match="TOKEN: a token is required"):
        process_word("${TOKEN:?a token is required}", {})


@pytest.mark.parametrize(
    ("text", "env", "words"),
    [
        ("hello${hi}bye", {}, ["hellobye"]),
        ("hello${space}bye", {"space": "abc  def"}, ["helloabc", "defbye"]),
        ('hello"${space}"bye', {"space": "abc  def"}, ["helloabc  defbye"]),
        ('hello "${space}"bye', {"space": "abc  def"}, ["hello", "abc  defbye"]),
        ("hello${leading}def", {"leading": "  ab c"}, ["hello", "ab", "cdef"]),
        ("hello${trailing}d", {"trailing": "ab c   "}, ["helloab", "c", "d"]),
        ('hello" there  "', {}, ["hello there  "]),
        ("hello there", {}, ["hello", "there"]),
        ("hello\\ there", {}, ["hello there"]),
        ('hello\\" there', {}, ['hello"', "there"]),
        ("hello'$there'", {}, ["hello$there"]),
        ("80 $PORTS", {"PORTS": "443/tcp 53/udp"}, ["80", "443/tcp", "53/udp"]),
    ],
)
def test_process_words_splits_after_expansion(
    text: str, env: dict[str, str], words: list[str]
) -> None:
    assert process_words(text, env) == words


def test_the_escape_directive_changes_the_escape_character() -> None:
    assert process_word("C:\\path\\$X", {"X": "x"}, escape="`") == "C:\\path\\x"
    assert process_word("a`$X", {"X": "x"}, escape="`") == "a$X"


def test_used_names_are_recorded() -> None:
    used: set[str] = set()
    process_word("${A}-$B-${C:-c}", {"A": "a", "B": "b"}, used=used)
    assert used == {"A", "B"}


def run(
    text: str,
    build_args: dict[str, str] | None = None,
    base_env: tuple[str, ...] = (),
) -> tuple[list[str], list[list[str]], list[Scope]]:
    """Walk a Dockerfile the way the executor does and return the expanded FROM lines, what
    each stage's RUN/USER/WORKDIR saw (RUN through the shell, so `$X` there is expanded with
    the stage's variables) and each stage's scope."""
    dockerfile = parse(textwrap.dedent(text).lstrip())
    top = Scope.global_scope(build_args or {}, platform_args("linux/arm64/v8", "linux/amd64"))
    for instruction in dockerfile.global_args:
        assert isinstance(instruction.args, Arg)
        for definition in instruction.args.definitions:
            top.declare_arg(definition.name, definition.default)
    bases, seen, scopes = [], [], []
    for stage in dockerfile.stages:
        bases.append(top.expand_word(stage.base))
        scope = top.stage_scope(base_env)
        outputs = []
        for instruction in stage.instructions:
            args = instruction.args
            if isinstance(args, Arg):
                for definition in args.definitions:
                    scope.declare_arg(definition.name, definition.default)
            elif isinstance(args, Env):
                for pair in args.pairs:
                    scope.set_env(scope.expand_word(pair.key), scope.expand_word(pair.value))
            elif isinstance(args, Value):
                outputs.append(scope.expand_word(args.text))
            elif isinstance(args, Run):
                outputs.append(process_word(args.command.words[0], scope.variables))
        seen.append(outputs)
        scopes.append(scope)
    return bases, seen, scopes


USERNAME = """
    FROM busybox
    USER ${username:-some_user}
    ARG username
    USER $username
"""
ENV_WINS = """
    FROM ubuntu
    ARG CONT_IMG_VER
    ENV CONT_IMG_VER=v1.0.0
    RUN echo $CONT_IMG_VER
"""
ENV_FROM_ARG = """
    FROM ubuntu
    ARG CONT_IMG_VER
    ENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}
    RUN echo $CONT_IMG_VER
"""
GLOBAL = """
    ARG VERSION=latest
    FROM busybox:$VERSION
    RUN echo before=$VERSION
    ARG VERSION
    RUN echo after=$VERSION
    FROM extras:${VERSION}
    RUN echo other=$VERSION
"""
PER_STAGE = """
    FROM busybox
    ARG SETTINGS
    RUN ./run/setup $SETTINGS
    FROM busybox
    RUN ./run/other $SETTINGS
"""
PLATFORM = """
    FROM --platform=$BUILDPLATFORM golang AS build
    RUN echo $TARGETARCH
    ARG TARGETARCH TARGETVARIANT BUILDOS
    RUN echo $TARGETARCH/$TARGETVARIANT on $BUILDOS
"""
DEFAULT_USES_ENV = """
    FROM busybox
    ENV PREFIX=/opt
    ARG DIR=$PREFIX/app
    WORKDIR $DIR
"""


@pytest.mark.parametrize(
    ("text", "build_args", "bases", "seen"),
    [
        (USERNAME, {}, ["busybox"], [["some_user", ""]]),
        (USERNAME, {"username": "what_user"}, ["busybox"], [["some_user", "what_user"]]),
        (ENV_WINS, {"CONT_IMG_VER": "v2.0.1"}, ["ubuntu"], [["echo v1.0.0"]]),
        (ENV_FROM_ARG, {}, ["ubuntu"], [["echo v1.0.0"]]),
        (ENV_FROM_ARG, {"CONT_IMG_VER": "v2.0.1"}, ["ubuntu"], [["echo v2.0.1"]]),
        (
            GLOBAL,
            {},
            ["busybox:latest", "extras:latest"],
            [["echo before=", "echo after=latest"], ["echo other="]],
        ),
        (
            GLOBAL,
            {"VERSION": "1.36"},
            ["busybox:1.36", "extras:1.36"],
            [["echo before=", "echo after=1.36"], ["echo other="]],
        ),
        (
            PER_STAGE,
            {"SETTINGS": "fast"},
            ["busybox", "busybox"],
            [["./run/setup fast"], ["./run/other "]],
        ),
        (PLATFORM, {}, ["golang"], [["echo ", "echo arm64/v8 on linux"]]),
        (DEFAULT_USES_ENV, {}, ["busybox"], [["/opt/app"]]),
    ],
)
def test_arg_and_env_scoping(
    text: str, build_args: dict[str, str], bases: list[str], seen: list[list[str]]
) -> None:
    assert run(text, build_args)[:2] == (bases, seen)


def test_the_platform_args_are_global_and_a_build_arg_overrides_them() -> None:
    dockerfile = "FROM --platform=$BUILDPLATFORM a\n"
    top = Scope.global_scope(
        {"BUILDPLATFORM": "linux/riscv64"}, platform_args("linux/amd64", "linux/amd64")
    )
    assert top.expand_word(parse(dockerfile).stages[0].platform) == "linux/riscv64"
    assert platform_args("linux/arm/v7", "linux/amd64") == {
        "TARGETPLATFORM": "linux/arm/v7",
        "TARGETOS": "linux",
        "TARGETARCH": "arm",
        "TARGETVARIANT": "v7",
        "BUILDPLATFORM": "linux/amd64",
        "BUILDOS": "linux",
        "BUILDARCH": "amd64",
        "BUILDVARIANT": "",
    }


def test_proxy_args_need_no_declaration_and_stay_out_of_history() -> None:
    text = """
        FROM alpine
        ARG VERSION=1
        RUN wget -e use_proxy=yes $HTTP_PROXY/v$VERSION
    """
    build_args = {"HTTP_PROXY": "http://proxy:3128", "UNUSED": "x"}
    _, seen, [scope] = run(text, build_args, base_env=("PATH=/usr/bin", "HOME=/root"))
    assert seen == [["wget -e use_proxy=yes http://proxy:3128/v1"]]
    assert scope.history_args() == ["VERSION=1"]
    assert scope.run_environment() == [
        "PATH=/usr/bin",
        "HOME=/root",
        "HTTP_PROXY=http://proxy:3128",
        "VERSION=1",
    ]
    assert scope.env == {}
    assert scope.unconsumed() == ["UNUSED"]


def test_the_scope_records_consumed_args_and_used_variables() -> None:
    _, _, [scope] = run(USERNAME, {"username": "u", "other": "o"})
    assert scope.consumed == {"username"}
    assert scope.unconsumed() == ["other"]
    assert "username" in scope.used


def test_copy_heredocs_expand_without_touching_quotes() -> None:
    scope = Scope.global_scope({}, {}).stage_scope(["NAME=world"])
    assert (
        scope.expand_heredoc("echo \"hello $NAME\" '$NAME'\n") == "echo \"hello world\" 'world'\n"
    )
