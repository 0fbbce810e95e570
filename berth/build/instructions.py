"""The typed form of a parsed Dockerfile: plain records the executor reads, nothing more.

Words stay raw (unexpanded, quotes included where Docker keeps them until expansion): which
build args a stage sees is only known when it runs, so expansion belongs to the executor
(`berth.build.scope`). Each instruction keeps its start line and its original text, for error
messages and for the image history's `created_by`.

NamedTuples, not dataclasses, and without postponed annotations: a build that finds every
step in its cache is mostly start-up, and dataclasses (with inspect) cost it ~14 ms here.
"""

from typing import NamedTuple

from berth.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile that can't be parsed or run; the message starts with `<file>:<line>:`."""

    def __init__(self, name: str, line: int, message: str) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.line = line
        self.reason = message


class Heredoc(NamedTuple):
    """A here-document: `<<EOF` (expands variables), `<<'EOF'`/`<<"EOF"` (doesn't), `<<-EOF`
    (leading tabs stripped). `content` is the body as written, each line with its newline."""

    name: str
    content: str
    expand: bool
    chomp: bool
    fd: int = 0

    @property
    def text(self) -> str:
        """The body with leading tabs removed when the delimiter was `<<-`."""
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


class CommandLine(NamedTuple):
    """RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD: exec form (`shell` False, the JSON array's words)
    or shell form (`shell` True, one string that runs as `SHELL + [string]`)."""

    words: tuple[str, ...]
    shell: bool


class Run(NamedTuple):
    command: CommandLine
    mounts: tuple[str, ...] = ()
    network: str = "default"
    security: str = "sandbox"


class Cmd(NamedTuple):
    command: CommandLine


class Entrypoint(NamedTuple):
    command: CommandLine


class Shell(NamedTuple):
    words: tuple[str, ...]


class KeyValue(NamedTuple):
    """One `key=value` of ENV or LABEL; `legacy` marks the old `ENV key value` form."""

    key: str
    value: str
    legacy: bool = False


class Env(NamedTuple):
    pairs: tuple[KeyValue, ...]


class Label(NamedTuple):
    pairs: tuple[KeyValue, ...]


class ArgDefinition(NamedTuple):
    name: str
    default: str | None


class Arg(NamedTuple):
    definitions: tuple[ArgDefinition, ...]


class InlineSource(NamedTuple):
    """A heredoc used as a COPY/ADD source: a file named `name` holding `data`."""

    name: str
    data: str
    expand: bool


class Copy(NamedTuple):
    sources: tuple[str, ...]
    dest: str
    inline: tuple[InlineSource, ...] = ()
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()


class Add(NamedTuple):
    sources: tuple[str, ...]
    dest: str
    inline: tuple[InlineSource, ...] = ()
    chown: str = ""
    chmod: str = ""
    link: bool = False
    checksum: str = ""
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    excludes: tuple[str, ...] = ()


class Expose(NamedTuple):
    ports: tuple[str, ...]


class Volume(NamedTuple):
    paths: tuple[str, ...]


class Value(NamedTuple):
    """The single raw argument of USER, WORKDIR, STOPSIGNAL or MAINTAINER."""

    text: str


class Healthcheck(NamedTuple):
    """`test` is Docker's form: ("NONE",), ("CMD", *argv) or ("CMD-SHELL", command);
    durations are nanoseconds, 0 meaning "inherit the default"."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


class Onbuild(NamedTuple):
    """`expression` is the trigger's text as stored in the image's `OnBuild` list; `trigger`
    is the same text parsed (checked now, run when a child image builds FROM this one)."""

    expression: str
    trigger: "Instruction"


Arguments = (
    Run
    | Cmd
    | Entrypoint
    | Shell
    | Env
    | Label
    | Arg
    | Copy
    | Add
    | Expose
    | Volume
    | Value
    | Healthcheck
    | Onbuild
)


class Instruction(NamedTuple):
    """One instruction: `keyword` upper-cased, `line` where it starts, `original` the logical
    line as written (continuations joined), `flags` the raw `--name=value` words, `args` the
    parsed arguments and `heredocs` the bodies that followed the line."""

    keyword: str
    line: int
    original: str
    flags: tuple[str, ...]
    args: Arguments
    heredocs: tuple[Heredoc, ...] = ()


class Stage:
    """A FROM and what follows it. `base` is the image text unexpanded (it may name an
    earlier stage), `name` the lower-cased `AS` name or ""."""

    __slots__ = ("base", "index", "instructions", "line", "name", "original", "platform")

    def __init__(
        self,
        base: str,
        name: str,
        platform: str,
        line: int,
        original: str,
        index: int,
        instructions: list[Instruction] | None = None,
    ) -> None:
        self.base = base
        self.name = name
        self.platform = platform
        self.line = line
        self.original = original
        self.index = index
        self.instructions: list[Instruction] = instructions if instructions is not None else []

    def __repr__(self) -> str:
        return f"Stage({self.base!r}, name={self.name!r}, index={self.index})"


class Dockerfile:
    """A parsed Dockerfile: its parser directives (names lower-cased), the escape character,
    the ARGs before the first FROM and the stages in order."""

    __slots__ = ("directives", "escape", "global_args", "stages")

    def __init__(
        self,
        directives: dict[str, str],
        escape: str,
        global_args: list[Instruction],
        stages: list[Stage],
    ) -> None:
        self.directives = directives
        self.escape = escape
        self.global_args = global_args
        self.stages = stages

    def stage(self, reference: str) -> Stage | None:
        """The stage a `--target` or `COPY --from` names: by name (case-insensitive) or index."""
        for stage in self.stages:
            if stage.name and stage.name == reference.lower():
                return stage
        if reference.isdigit() and int(reference) < len(self.stages):
            return self.stages[int(reference)]
        return None
