"""Which variables an instruction sees: Docker's ARG and ENV scoping rules, in one place.

The rules (Dockerfile reference, "ARG" and "Scope", as BuildKit applies them):

- An ARG before the first FROM is a *global* arg: only FROM lines see it, unless a stage
  re-declares it (`ARG NAME` without a default), which brings the global value in.
- An ARG in a stage takes the build-arg's value if one was given, else its default (expanded
  with what the stage sees so far), else the global value; from then on the stage sees it.
- ENV sets a variable for the rest of the stage and the image; a later ARG or ENV of the same
  name replaces the value (BuildKit keeps one ordered list), so the documented "ENV overrides
  ARG" holds for the usual order, ARG first.
- The proxy args (HTTP_PROXY, ... no_proxy) are predefined: a build-arg for one of them is
  usable without an ARG, and stays out of the image's history unless declared.
- The platform args (TARGETPLATFORM, TARGETOS, ... BUILDVARIANT) are set in the global scope;
  a stage sees one only after `ARG TARGETARCH`.

`Scope` is what the executor keeps per stage; it also records which build args a stage
consumed (Docker warns about the others, and the cache key needs their values).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from berth.build.expand import Lexer

PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)
PLATFORM_ARGS = (
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
)


def platform_args(target: str, build: str) -> dict[str, str]:
    """The automatic platform args for a target and build platform like `linux/arm64/v8`."""
    values: dict[str, str] = {}
    for prefix, platform in (("TARGET", target), ("BUILD", build)):
        os_name, _, rest = platform.partition("/")
        arch, _, variant = rest.partition("/")
        values |= {
            f"{prefix}PLATFORM": platform,
            f"{prefix}OS": os_name,
            f"{prefix}ARCH": arch,
            f"{prefix}VARIANT": variant,
        }
    return values


class Scope:
    """The variables one part of a Dockerfile sees: the global scope (FROM lines) or a stage.

    Make the global scope with `Scope.global_scope(build_args, platform)`, declare the global
    ARGs on it, then `stage_scope(base_env)` for each stage. The `consumed` set is shared by
    a global scope and all its stages.
    """

    def __init__(
        self,
        build_args: Mapping[str, str],
        globals_: Mapping[str, str],
        variables: dict[str, str],
        consumed: set[str],
        escape: str,
    ) -> None:
        self.build_args = dict(build_args)
        self._globals = dict(globals_)
        self._variables = variables
        self.args: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.consumed = consumed
        self.used: set[str] = set()
        self._lexer = Lexer(escape=escape)

    @classmethod
    def global_scope(
        cls, build_args: Mapping[str, str], platform: Mapping[str, str], escape: str = "\\"
    ) -> Scope:
        """The scope of FROM lines: the platform args (a build-arg may override one) and,
        once declared, the global ARGs."""
        start = {name: build_args.get(name, value) for name, value in platform.items()}
        return cls(build_args, {}, start, set(), escape)

    def stage_scope(self, base_env: Iterable[str] = ()) -> Scope:
        """A stage's scope, starting from its base image's `Env` ("K=V" strings); it sees the
        global ARGs only through re-declaration."""
        variables: dict[str, str] = {}
        for entry in base_env:
            key, _, value = entry.partition("=")
            variables[key] = value
        for name in PROXY_ARGS:
            if name in self.build_args:
                variables.setdefault(name, self.build_args[name])
        return Scope(self.build_args, self._variables, variables, self.consumed, self._lexer.escape)

    def declare_arg(self, name: str, default: str | None) -> str | None:
        """`ARG name[=default]`: the value it takes (None: declared but unset). `default` is
        the raw text; it is expanded here with what the scope sees so far."""
        if name in self.build_args:
            value: str | None = self.build_args[name]
            self.consumed.add(name)
        elif default is not None:
            value = self.expand_word(default)
        else:
            value = self._globals.get(name)
        if value is not None:
            self._variables[name] = value
            self.args[name] = value
        else:
            self._variables.pop(name, None)
            self.args.pop(name, None)
        return value

    def set_env(self, key: str, value: str) -> None:
        """`ENV key=value` (already expanded): visible to later instructions and RUN."""
        self._variables[key] = value
        self.env[key] = value

    def expand_word(self, text: str) -> str:
        """`text` expanded as one word, with quotes removed (WORKDIR, ENV values, ...)."""
        return self._lexer.word(text, self._variables, self.used)

    def expand_words(self, text: str) -> list[str]:
        """`text` expanded and split into words (EXPOSE)."""
        return self._lexer.words(text, self._variables, self.used)

    def expand_heredoc(self, body: str) -> str:
        """A COPY/ADD heredoc body with an unquoted delimiter: variables expand, quotes stay
        (BuildKit expands it with the default escape and quotes left alone)."""
        lexer = Lexer(skip_quotes=True)
        return lexer.word(body, self._variables, self.used)

    @property
    def variables(self) -> dict[str, str]:
        """Everything a RUN's process sees: base image env, ENV, the stage's ARGs and the
        proxy build-args."""
        return dict(self._variables)

    def run_environment(self) -> list[str]:
        """`variables` as the "K=V" list a process gets."""
        return [f"{key}={value}" for key, value in self._variables.items()]

    def history_args(self) -> list[str]:
        """The declared args with values, "K=V", sorted: what Docker prefixes to a RUN's
        `created_by` (`|2 A=1 B=2 /bin/sh -c ...`) and what a RUN's cache key depends on."""
        return [f"{key}={self.args[key]}" for key in sorted(self.args)]

    def unconsumed(self) -> list[str]:
        """Build args nothing declared (Docker warns: "were not consumed"); the predefined
        proxy args never count."""
        return sorted(
            name
            for name in self.build_args
            if name not in self.consumed and name not in PROXY_ARGS and name not in PLATFORM_ARGS
        )
