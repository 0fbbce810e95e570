"""`.dockerignore`: which files of the build context a build may see, by Docker's rules
(moby/patternmatcher and its `ignorefile` reader, and the walker in tonistiigi/fsutil).

The rules, which differ from `.gitignore` in ways users trip over:

- One pattern per line; a line starting with `#` is a comment; blank lines are skipped.
  Each pattern is trimmed and cleaned like Go's `filepath.Clean` (`./a//b/` is `a/b`), and a
  leading `/` is dropped: patterns are relative to the context root.
- `*` and `?` never cross a `/`; `**` matches any number of directories (even none);
  `[a-z]` classes and `\\` escapes work as in Go's `filepath.Match`.
- A pattern that matches a directory excludes everything inside it.
- `!pattern` re-includes what it matches; the last matching line wins, so an exception can
  bring back a file inside an excluded directory.

Which ignore file: BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile when it
exists, else `.dockerignore` at the context root (`ignore_file_for`).

The Dockerfile and the ignore file themselves: both builders read them whatever the patterns
say, but neither keeps them for COPY when the patterns exclude them. BuildKit reads the
Dockerfile through its own channel and applies the patterns to the context as written; the
classic builder has its CLI send both files and the daemon removes them from the context when
the patterns match them (moby `builder/remotecontext`). So: a pattern excluding `Dockerfile`
makes `COPY Dockerfile /` fail, in Docker and here; `Matcher` treats them like any file.
"""

from __future__ import annotations

import posixpath
import re

from berth.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs the quick path of `build` ~2 ms (berth.build.inputs)
if TYPE_CHECKING:
    from collections.abc import Callable

_WILDCARDS = frozenset("*[]?^\\")
# Characters special to a regex but not to a Go path pattern; `[`, `]` and `^` pass through, so
# `[a-z]` and `[^a]` are character classes in both.
_REGEX_ONLY = frozenset(".+()|{}$")


def clean(path: str) -> str:
    """Go's `filepath.Clean` for slash paths (normpath, but `//a` is `/a`)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_patterns(text: str) -> list[str]:
    """The patterns of an ignore file's text, cleaned (exceptions keep their `!`)."""
    patterns = []
    for line in text.removeprefix("\ufeff").split("\n"):
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        exception = pattern.startswith("!")
        if exception:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/") or "/"
        patterns.append("!" + pattern if exception else pattern)
    return patterns


def ignore_file_for(dockerfile: str, exists: Callable[[str], bool]) -> str | None:
    """Which ignore file applies, as a path relative to the context: `<dockerfile>.dockerignore`
    when it exists (BuildKit looks beside the Dockerfile, by its file name), else
    `.dockerignore` when it exists, else None. `dockerfile` is relative to the context."""
    specific = clean(dockerfile).lstrip("/") + ".dockerignore"
    if exists(specific):
        return specific
    if exists(".dockerignore"):
        return ".dockerignore"
    return None


class Pattern:
    __slots__ = ("exception", "regex", "text")

    def __init__(self, text: str, exception: bool, regex: re.Pattern[str]) -> None:
        self.text = text
        self.exception = exception
        self.regex = regex


def _compile(text: str) -> re.Pattern[str]:
    """A cleaned pattern as an anchored regex (patternmatcher's translation)."""
    out = ["^"]
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if char == "*" and text[index : index + 1] == "*":
            index += 1
            if text[index : index + 1] == "/":
                index += 1
            out.append(".*" if index == len(text) else "(.*/)?")
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            out.append(re.escape(text[index]) if index < len(text) else "\\\\")
            index += 1
        elif char in _REGEX_ONLY:
            out.append("\\" + char)
        else:
            out.append(char)
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error as error:
        raise InvalidArgument(f"syntax error in .dockerignore pattern {text}: {error}") from None


class Matcher:
    """A compiled list of ignore patterns: `excluded(path)` answers for a path relative to the
    context root, `skip_directory(path)` says whether a walker may skip a whole directory."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            exception = text.startswith("!")
            if exception:
                text = text[1:]
                if not text:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
            text = clean(text)
            self.patterns.append(Pattern(text, exception, _compile(text)))
        self.has_exceptions = any(pattern.exception for pattern in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> Matcher:
        return cls(read_patterns(text))

    def excluded(self, path: str) -> bool:
        """Whether `path` (slash-separated, relative to the context) is excluded: the last
        pattern that matches it or one of its parent directories decides."""
        path = clean(path).lstrip("/")
        if path in (".", ""):
            return False
        parents = path.split("/")[:-1]
        prefixes = ["/".join(parents[: count + 1]) for count in range(len(parents))]
        matched = False
        for pattern in self.patterns:
            if pattern.exception != matched:
                continue
            if pattern.regex.match(path) or any(pattern.regex.match(p) for p in prefixes):
                matched = not pattern.exception
        return matched

    def skip_directory(self, path: str) -> bool:
        """Whether a walker may skip everything under the directory `path` without looking:
        the directory is excluded and no exception could re-include anything inside it.

        As fsutil decides: an exception can only be ruled out when exceptions are plain
        prefixes (no wildcard before a trailing `/*` or `/**`); one that is a longer path
        under this directory keeps the walk going.
        """
        if not self.excluded(path):
            return False
        if not self.has_exceptions:
            return True
        directory = clean(path).lstrip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exception:
                continue
            text = _without_trailing_glob(pattern.text)
            if _WILDCARDS.intersection(text):
                return False
            if (text + "/").startswith(directory):
                return False
        return True


def _without_trailing_glob(text: str) -> str:
    return text.removesuffix("/**").removesuffix("/*")
