"""Dockerfile text to typed stages and instructions, as BuildKit's front end reads it:
directives, comments, continuations, heredocs, exec vs shell form, flags, every instruction,
and errors that name their line."""

from __future__ import annotations

import textwrap

import pytest

from berth.build import DockerfileError, parse, parse_mount, parse_triggers, run_script
from berth.build.instructions import (
    Add,
    Arg,
    ArgDefinition,
    Cmd,
    CommandLine,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    InlineSource,
    Instruction,
    KeyValue,
    Label,
    Onbuild,
    Run,
    Shell,
    Value,
    Volume,
)
from berth.errors import InvalidArgument


def dockerfile(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def only(text: str) -> Instruction:
    """The one instruction after `FROM scratch`."""
    parsed = parse("FROM scratch\n" + dockerfile(text))
    [instruction] = parsed.stages[0].instructions
    return instruction


POSTGRES = dockerfile(r"""
    # vim:set ft=dockerfile:
    FROM debian:bookworm-slim

    RUN set -ex; \
        if ! command -v gpg > /dev/null; then \
            apt-get update; \
            apt-get install -y --no-install-recommends \
                gnupg \
                dirmngr \
            ; \
            rm -rf /var/lib/apt/lists/*; \
        fi

    # explicitly set user/group IDs
    RUN set -eux; \
        groupadd -r postgres --gid=999; \
        useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
    ENV PG_MAJOR 15
    ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin
    ENV PGDATA /var/lib/postgresql/data
    RUN mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 1777 "$PGDATA"
    VOLUME /var/lib/postgresql/data
    COPY docker-entrypoint.sh /usr/local/bin/
    ENTRYPOINT ["docker-entrypoint.sh"]
    STOPSIGNAL SIGINT
    EXPOSE 5432
    CMD ["postgres"]
""")


def test_a_debian_postgres_dockerfile() -> None:
    parsed = parse(POSTGRES)
    [stage] = parsed.stages
    assert (stage.base, stage.name, stage.line) == ("debian:bookworm-slim", "", 2)
    keywords = [(i.keyword, i.line) for i in stage.instructions]
    assert keywords == [
        ("RUN", 4),
        ("RUN", 15),
        ("ENV", 18),
        ("ENV", 19),
        ("ENV", 20),
        ("RUN", 21),
        ("VOLUME", 22),
        ("COPY", 23),
        ("ENTRYPOINT", 24),
        ("STOPSIGNAL", 25),
        ("EXPOSE", 26),
        ("CMD", 27),
    ]
    first = stage.instructions[0]
    assert isinstance(first.args, Run) and first.args.command.shell
    [script] = first.args.command.words
    assert script.startswith(
        "set -ex;     if ! command -v gpg > /dev/null; then         apt-get update;"
    )
    assert script.endswith("rm -rf /var/lib/apt/lists/*;     fi")
    assert first.original == "RUN " + script
    # The comment inside the second RUN's block is a line of its own, not part of it.
    assert "explicitly" not in stage.instructions[1].original
    assert stage.instructions[3].args == Env(
        (KeyValue("PATH", "$PATH:/usr/lib/postgresql/$PG_MAJOR/bin", legacy=True),)
    )
    assert stage.instructions[7].args == Copy(("docker-entrypoint.sh",), "/usr/local/bin/")
    assert stage.instructions[8].args == Entrypoint(CommandLine(("docker-entrypoint.sh",), False))
    assert stage.instructions[9].args == Value("SIGINT")
    assert stage.instructions[10].args == Expose(("5432",))
    assert stage.instructions[11].args == Cmd(CommandLine(("postgres",), shell=False))


GO_BUILD = dockerfile("""
    # syntax=docker/dockerfile:1.7
    ARG GO_VERSION=1.22
    ARG BASE
    FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS Builder
    WORKDIR /src
    RUN --mount=type=cache,target=/go/pkg/mod --mount=type=bind,source=go.mod,target=go.mod \\
        go mod download
    COPY . .
    RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -o /out/app .

    from gcr.io/distroless/static:nonroot as final
    COPY --from=builder --chown=nonroot:nonroot /out/app /app
    USER nonroot:nonroot
    ENTRYPOINT ["/app"]
""")


def test_a_multi_stage_go_build() -> None:
    parsed = parse(GO_BUILD)
    assert parsed.directives == {"syntax": "docker/dockerfile:1.7"}
    assert [i.args for i in parsed.global_args] == [
        Arg((ArgDefinition("GO_VERSION", "1.22"),)),
        Arg((ArgDefinition("BASE", None),)),
    ]
    builder, final = parsed.stages
    assert (builder.base, builder.name, builder.platform) == (
        "golang:${GO_VERSION}-alpine",
        "builder",
        "$BUILDPLATFORM",
    )
    assert (final.name, final.index, final.line) == ("final", 1, 11)
    download = builder.instructions[1]
    assert download.flags == (
        "--mount=type=cache,target=/go/pkg/mod",
        "--mount=type=bind,source=go.mod,target=go.mod",
    )
    assert isinstance(download.args, Run)
    assert download.args.command == CommandLine(("go mod download",), shell=True)
    assert download.args.mounts == (
        "type=cache,target=/go/pkg/mod",
        "type=bind,source=go.mod,target=go.mod",
    )
    copy = final.instructions[0].args
    assert copy == Copy(("/out/app",), "/app", from_="builder", chown="nonroot:nonroot")
    assert parsed.stage("BUILDER") is builder and parsed.stage("1") is final
    assert parsed.stage("nope") is None


HEREDOCS = dockerfile("""
    FROM alpine
    RUN <<EOF
    apk add --no-cache curl
    echo done
    EOF
    RUN python3 <<'PY' > /out.txt
    import os
    print(os.environ["HOME"])
    PY
    RUN <<-A cat - && cat /dev/fd/3 3<<"B"
    \t\tindented
    \tA
    second $X
    B
    COPY <<one.txt <<-"two.txt" /dest/
    hello $NAME
    one.txt
    \tworld
    \ttwo.txt
    RUN <<EOF
    #!/usr/bin/env python3
    print("hi")
    EOF
    ONBUILD RUN <<EOF
    echo child
    EOF
    COPY ["<<EOF", "/x"]
""")


def test_heredocs_in_run_and_copy() -> None:
    stage = parse(HEREDOCS).stages[0]
    simple, python, two, copy, shebang, onbuild, json_copy = stage.instructions
    assert [(d.name, d.content, d.expand) for d in simple.heredocs] == [
        ("EOF", "apk add --no-cache curl\necho done\n", True)
    ]
    assert run_script(simple.original[4:], simple.heredocs) == (
        "apk add --no-cache curl\necho done\n",
        None,
    )
    assert python.heredocs[0].expand is False
    assert run_script("python3 <<'PY' > /out.txt", python.heredocs)[0] == (
        "python3 <<'PY' > /out.txt\nimport os\nprint(os.environ[\"HOME\"])\nPY"
    )
    assert [(d.name, d.text, d.expand, d.chomp, d.fd) for d in two.heredocs] == [
        ("A", "indented\n", True, True, 0),
        ("B", "second $X\n", False, False, 3),
    ]
    assert copy.line == 15
    assert isinstance(copy.args, Copy)
    assert copy.args.sources == () and copy.args.dest == "/dest/"
    assert copy.args.inline == (
        InlineSource("one.txt", "hello $NAME\n", expand=True),
        InlineSource("two.txt", "world\n", expand=False),
    )
    command, script = run_script("<<EOF", shebang.heredocs)
    assert command == "/dev/pipes/EOF"
    assert script is not None and script.text.startswith("#!/usr/bin/env python3\n")
    assert isinstance(onbuild.args, Onbuild)
    assert onbuild.args.expression == "RUN <<EOF\necho child\nEOF"
    assert onbuild.args.trigger.heredocs[0].content == "echo child\n"
    # JSON form never reads heredocs: the word is a path.
    assert json_copy.args == Copy(("<<EOF",), "/x")


def test_an_unterminated_heredoc_names_its_line() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:3: unterminated heredoc EOF") as info:
        parse("FROM alpine\n\nRUN <<EOF\necho hi\nEOF \n")
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("text", "directives", "escape", "keywords"),
    [
        (
            "# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n",
            {"syntax": "docker/dockerfile:1", "check": "skip=all"},
            "\\",
            [],
        ),
        ("# ESCAPE = `\nFROM a\nRUN echo a `\n  b\n", {"escape": "`"}, "`", ["RUN"]),
        # A directive after a comment, a blank line or an instruction is only a comment.
        ("# hello\n# escape=`\nFROM a\nRUN echo \\\n b\n", {}, "\\", ["RUN"]),
        ("\n# escape=`\nFROM a\n", {}, "\\", []),
        ("FROM a\n# escape=`\n", {}, "\\", []),
        # An unknown directive ends the directives too.
        ("# foo=bar\n# escape=`\nFROM a\n", {}, "\\", []),
        ("\ufeff# escape=`\nFROM a\r\nRUN x `\r\n y\r\n", {"escape": "`"}, "`", ["RUN"]),
    ],
)
def test_parser_directives(
    text: str, directives: dict[str, str], escape: str, keywords: list[str]
) -> None:
    parsed = parse(text)
    assert parsed.directives == directives
    assert parsed.escape == escape
    assert [i.keyword for i in parsed.stages[0].instructions] == keywords
    for instruction in parsed.stages[0].instructions:
        assert instruction.original in ("RUN echo a   b", "RUN echo  b", "RUN x  y")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Comments and blank lines inside a continuation are skipped.
        ("RUN a \\\n# note\n\n  b", "RUN a   b"),
        ("  run   a\\\n   \\\n  b", "run   a     b"),
        # An escaped escape at the end is not a continuation.
        ("RUN echo a\\\\\n", "RUN echo a\\\\"),
        ("RUN a \\   \n b", "RUN a  b"),
        # Continuation lines keep their leading blanks (tabs too).
        ("RUN a \\\n\t\tb", "RUN a \t\tb"),
    ],
)
def test_continuations(text: str, expected: str) -> None:
    [instruction] = parse("FROM scratch\n" + text).stages[0].instructions
    assert instruction.original == expected


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ('RUN ["echo", "a b"]', Run(CommandLine(("echo", "a b"), shell=False))),
        ("RUN [ not json", Run(CommandLine(("[ not json",), shell=True))),
        ("RUN echo [1, 2]", Run(CommandLine(("echo [1, 2]",), shell=True))),
        ('cmd ["a"]', Cmd(CommandLine(("a",), shell=False))),
        ("CMD", Cmd(CommandLine((), shell=True))),
        ("ENTRYPOINT []", Entrypoint(CommandLine((), shell=False))),
        ("ENTRYPOINT exec top -b", Entrypoint(CommandLine(("exec top -b",), shell=True))),
        (
            'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
            Shell(("/bin/bash", "-o", "pipefail", "-c")),
        ),
        ('VOLUME ["/data", "/logs"]', Volume(("/data", "/logs"))),
        ("VOLUME /data /logs", Volume(("/data", "/logs"))),
        ('ADD ["a b.txt", "/x/"]', Add(("a b.txt",), "/x/")),
        (
            "ADD --checksum=sha256:abc --keep-git-dir=false https://x/y.tar /",
            Add(("https://x/y.tar",), "/", checksum="sha256:abc", keep_git_dir=False),
        ),
        (
            "ADD --chown=1:2 --chmod=755 --link a b /c/",
            Add(("a", "b"), "/c/", chown="1:2", chmod="755", link=True),
        ),
        (
            "COPY --parents --link=false --exclude=*.md --exclude=.git ./ /app",
            Copy(("./",), "/app", parents=True, excludes=("*.md", ".git")),
        ),
        ('COPY --chmod="0644" "a" /b', Copy(('"a"',), "/b", chmod="0644")),
        ("EXPOSE 80/tcp 53/udp $PORT", Expose(("80/tcp", "53/udp", "$PORT"))),
        ("USER ${UID}:${GID}", Value("${UID}:${GID}")),
        ("WORKDIR /my dir", Value("/my dir")),
        ("MAINTAINER Jane Doe <jane@example.com>", Value("Jane Doe <jane@example.com>")),
        (
            'LABEL a=1 "b c"="d e" f=g\\ h',
            Label((KeyValue("a", "1"), KeyValue('"b c"', '"d e"'), KeyValue("f", "g\\ h"))),
        ),
        (
            "LABEL description This is a long one",
            Label((KeyValue("description", "This is a long one", legacy=True),)),
        ),
        (
            'ENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy',
            Env(
                (
                    KeyValue("MY_NAME", '"John Doe"'),
                    KeyValue("MY_DOG", "Rex\\ The\\ Dog"),
                    KeyValue("MY_CAT", "fluffy"),
                )
            ),
        ),
        ("ENV EMPTY=", Env((KeyValue("EMPTY", ""),))),
        (
            'ARG a b=2 c= d="x y"',
            Arg(
                (
                    ArgDefinition("a", None),
                    ArgDefinition("b", "2"),
                    ArgDefinition("c", ""),
                    ArgDefinition("d", '"x y"'),
                )
            ),
        ),
        ("HEALTHCHECK NONE", Healthcheck(("NONE",))),
        (
            "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1",
            Healthcheck(
                ("CMD-SHELL", "curl -f http://localhost/ || exit 1"),
                interval=300 * 10**9,
                timeout=3 * 10**9,
            ),
        ),
        (
            "HEALTHCHECK --start-period=1m30s --start-interval=500ms --retries=3"
            ' CMD ["pg_isready"]',
            Healthcheck(
                ("CMD", "pg_isready"),
                start_period=90 * 10**9,
                start_interval=500 * 10**6,
                retries=3,
            ),
        ),
    ],
)
def test_instruction_arguments(line: str, args: object) -> None:
    assert only(line).args == args


def test_onbuild_wraps_another_instruction() -> None:
    instruction = only("ONBUILD copy --from=x . /app/src")
    assert isinstance(instruction.args, Onbuild)
    assert instruction.args.expression == "copy --from=x . /app/src"
    assert instruction.args.trigger.keyword == "COPY"
    assert instruction.args.trigger.args == Copy((".",), "/app/src", from_="x")
    [trigger] = parse_triggers(["RUN echo hi"])
    assert trigger.args == Run(CommandLine(("echo hi",), shell=True))


def test_run_flags() -> None:
    quoted = only('RUN --mount="type=bind,source=a,target=/b" ls').args
    assert isinstance(quoted, Run) and quoted.mounts == ("type=bind,source=a,target=/b",)
    run = only(
        "RUN --network=none --security=insecure --mount=type=secret,id=tok,required true"
    ).args
    assert run == Run(
        CommandLine(("true",), True), ("type=secret,id=tok,required",), "none", "insecure"
    )


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        (
            "type=cache,target=/root/.cache,sharing=locked,id=pip,mode=0755,uid=1000",
            {
                "type": "cache",
                "target": "/root/.cache",
                "sharing": "locked",
                "id": "pip",
                "mode": 0o755,
                "uid": 1000,
                "readonly": False,
            },
        ),
        (
            "target=/src,from=builder,source=/out,rw",
            {
                "type": "bind",
                "target": "/src",
                "from_": "builder",
                "source": "/out",
                "readonly": False,
            },
        ),
        ("type=bind,dst=/x,src=y", {"target": "/x", "source": "y", "readonly": True}),
        (
            "type=tmpfs,destination=/tmp,size=64m",
            {"type": "tmpfs", "size": 64 * 2**20, "readonly": False},
        ),
        (
            "type=secret,id=aws,target=/root/.aws/credentials,required=true",
            {"required": True, "readonly": True},
        ),
        ("type=ssh,ro=false", {"type": "ssh", "readonly": False}),
        ('type=bind,"source=a,b",target=/c', {"source": "a,b", "target": "/c"}),
    ],
)
def test_mounts(spec: str, fields: dict[str, object]) -> None:
    mount = parse_mount(spec)
    for key, value in fields.items():
        assert getattr(mount, key) == value


def test_a_mount_with_variables_is_parsed_when_expanded() -> None:
    run = only("RUN --mount=type=cache,target=$CACHE,id=${ID} go build").args
    assert isinstance(run, Run)
    values = {"$CACHE": "/c", "${ID}": "go"}
    mount = parse_mount(run.mounts[0], lambda text: values.get(text, text))
    assert (mount.target, mount.id) == ("/c", "go")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=volume,target=/x", "unsupported mount type 'volume'"),
        ("type=cache,target=/x,sharing=everyone", "unsupported sharing value"),
        ("type=bind,target=/x,mode=0644", "mode not allowed for 'bind' type mounts"),
        ("type=bind,target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=cache,target=/x,required", "unexpected key 'required'"),
        ("type=secret", "one of source, target required"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=cache,target=/x,uid=me", "invalid value me for uid"),
        ("type=cache,target", "invalid field 'target' must be a key=value pair"),
        ("type=cache,tagret=/x", "unexpected key 'tagret'"),
        ("type=bind,from=$STAGE,target=/x", "doesn't support variable expansion"),
    ],
)
def test_bad_mounts(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_mount(spec)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM a\nRUN x\n\n# c\n\nRUN y\nFORM b\n", 7, "unknown instruction: FORM"),
        ("FROM a\nCOPY --form=builder a b\n", 2, "unknown flag: --form"),
        ("FROM a\nADD --from=builder a b\n", 2, "unknown flag: --from"),
        ("FROM a\nENV --x=1 A=b\n", 2, "unknown flag: --x"),
        ("FROM a\nCOPY --from=a --from=b x y\n", 2, "duplicate flag specified: --from"),
        ("FROM a\nCOPY --link=maybe x y\n", 2, "expecting boolean value for flag --link"),
        ("FROM a\nCOPY --chown x y\n", 2, "missing a value on flag: --chown"),
        ("FROM a\nRUN --network=bridge x\n", 2, "invalid network mode 'bridge'"),
        ("FROM a\nRUN --security=root x\n", 2, "security 'root' is not valid"),
        ("FROM a\nRUN \\\n --mount=type=nfs,target=/x x\n", 2, "unsupported mount type"),
        ("FROM --platform linux/amd64 a\n", 1, "missing a value on flag: --platform"),
        ("FROM a AS 1st\n", 1, "invalid name for build stage: '1st'"),
        ("FROM a b\n", 1, "FROM requires either one or three arguments"),
        ("RUN x\nFROM a\n", 1, "no build stage in current context"),
        ("ARG A\n", 1, "no build stage"),
        ("# only a comment\n\n", 1, "file with no instructions"),
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            2,
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("FROM a\nONBUILD FROM b\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nonbuild maintainer me\n", 2, "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD FOO x\n", 2, "unknown instruction: FOO"),
        ("FROM a\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nCMD [1, 2]\n", 2, "arrays must be comprised of strings only"),
        ("FROM a\nCOPY onlyone\n", 2, "COPY requires at least two arguments"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF\n", 2, "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
        ("FROM a\nENV A=1 B\n", 2, "can't find = in 'B'"),
        ("FROM a\nLABEL =x\n", 2, "LABEL names can not be blank"),
        ("FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
        ("FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
        ("FROM a\nHEALTHCHECK NONE CMD x\n", 2, "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK RUN x\n", 2, 'Unknown type "RUN" in HEALTHCHECK'),
        ("FROM a\nHEALTHCHECK --interval=10 CMD x\n", 2, "invalid duration"),
        ("FROM a\nHEALTHCHECK --timeout=1us CMD x\n", 2, "cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", 2, "--retries cannot be negative"),
        ("FROM a\nHEALTHCHECK --start-perod=1s CMD x\n", 2, "unknown flag: --start-perod"),
        ("# escape=x\nFROM a\n", 1, "invalid escape token 'x'"),
        ("# escape=`\n# escape=\\\nFROM a\n", 2, "only one escape parser directive"),
    ],
)
def test_errors_name_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert info.value.line == line
    assert isinstance(info.value, InvalidArgument)
    assert str(info.value).startswith(f"Dockerfile:{line}: ")
    assert message in info.value.reason


def test_the_file_name_prefixes_errors() -> None:
    with pytest.raises(InvalidArgument, match=r"^app\.Dockerfile:2: unknown instruction: FORM$"):
        parse("FROM a\nFORM b\n", name="app.Dockerfile")


def test_keywords_are_case_insensitive_and_keep_their_spelling_in_original() -> None:
    stage = parse("from alpine As Base\nrun echo hi\nCoPy a b\n").stages[0]
    assert stage.name == "base"
    assert [i.keyword for i in stage.instructions] == ["RUN", "COPY"]
    assert stage.instructions[0].original == "run echo hi"
    assert stage.original == "from alpine As Base"


def test_the_backtick_escape_keeps_windows_paths() -> None:
    text = "# escape=`\nFROM windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  && echo hi\n"
    copy, run = parse(text).stages[0].instructions
    assert copy.args == Copy(("testfile.txt",), "c:\\")
    assert run.args == Run(CommandLine(("dir c:\\   && echo hi",), shell=True))
