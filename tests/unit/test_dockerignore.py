""".dockerignore as Docker reads it: comments, cleaning, wildcards that stop at `/`, `**`,
directories that take their contents with them, `!` exceptions where the last match wins,
and when a walker may skip a whole directory."""

from __future__ import annotations

import pytest

from berth.build import Matcher, ignore_file_for, read_patterns
from berth.errors import InvalidArgument


def test_reading_the_file() -> None:
    text = "\ufeff# comment\n\n  *.log  \n # not a comment\n/secret\n./build/\n"
    text += "! /keep//me/\na//b/../c\n!\n"
    assert read_patterns(text) == [
        "*.log",
        "# not a comment",
        "secret",
        "build",
        "!keep/me",
        "a/c",
        "!",
    ]


DOCS = ["# comment", "*/temp*", "*/*/temp*", "temp?"]
README_FIRST = ["*.md", "!README*.md", "README-secret.md"]
README_LAST = ["*.md", "README-secret.md", "!README*.md"]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (DOCS, "somedir/temporary.txt", True),
        (DOCS, "somedir/temp", True),
        (DOCS, "somedir/temp/inside/file", True),
        (DOCS, "temporary.txt", False),
        (DOCS, "somedir/subdir/temporary.txt", True),
        (DOCS, "a/b/c/temporary.txt", False),
        (DOCS, "tempa", True),
        (DOCS, "tempab", False),
        (README_FIRST, "CHANGES.md", True),
        (README_FIRST, "README.md", False),
        (README_FIRST, "README-secret.md", True),
        (README_FIRST, "docs/guide.md", False),
        (README_LAST, "README-secret.md", False),
        (README_LAST, "CHANGES.md", True),
        (["**/*.go"], "main.go", True),
        (["**/*.go"], "cmd/tool/main.go", True),
        (["**/*.go"], "main.go.txt", False),
        (["**"], "anything/at/all", True),
        (["**", "!Dockerfile"], "Dockerfile", False),
        (["**", "!Dockerfile"], "src/Dockerfile", True),
        (["docs/**"], "docs", False),
        (["docs/**"], "docs/a/b", True),
        (["a/**/z"], "a/z", True),
        (["a/**/z"], "a/b/c/z", True),
        (["node_modules"], "node_modules/lodash/index.js", True),
        (["node_modules"], "web/node_modules/x", False),
        (["**/node_modules"], "web/node_modules/x", True),
        (["/secret"], "secret", True),
        (["./secret"], "secret/key", True),
        (["secret"], "./secret", True),
        (["*"], "a", True),
        (["*"], "a/b", True),
        (["*", "!a/b"], "a/b", False),
        (["*", "!a/b"], "a/c", True),
        (["[a-c].txt"], "b.txt", True),
        (["[a-c].txt"], "d.txt", False),
        (["[^a].txt"], "a.txt", False),
        (["file?.txt"], "file/.txt", False),
        (["\\*.txt"], "*.txt", True),
        (["\\*.txt"], "a.txt", False),
        (["a.b"], "axb", False),
        (["a+(b)"], "a+(b)", True),
        (["docs", "!docs/keep.md"], "docs/keep.md", False),
        (["docs", "!docs/keep.md"], "docs/other.md", True),
        (["docs", "!docs/keep.md", "docs"], "docs/keep.md", True),
        ([".git", "Dockerfile", ".dockerignore"], "Dockerfile", True),
        (["*.log"], ".", False),
    ],
)
def test_excluded(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher.from_text("\n".join(patterns)).excluded(path) is excluded


@pytest.mark.parametrize(
    ("patterns", "directory", "skip"),
    [
        (["build"], "build", True),
        (["build"], "src", False),
        (["build", "!build/keep"], "build", False),
        (["build", "!build/keep/**"], "build", False),
        (["build", "!other/keep"], "build", True),
        (["build", "!*.md"], "build", False),
        (["**/cache"], "a/b/cache", True),
        (["vendor/*", "!vendor/github.com/org/lib"], "vendor/github.com", False),
        (["vendor/*", "!vendor/github.com/org/lib"], "vendor/golang.org", True),
    ],
)
def test_skip_directory(patterns: list[str], directory: str, skip: bool) -> None:
    assert Matcher(patterns).skip_directory(directory) is skip


@pytest.mark.parametrize("patterns", [["!"], ["[a-"], ["a[b"]])
def test_bad_patterns(patterns: list[str]) -> None:
    with pytest.raises(InvalidArgument):
        Matcher(patterns)


@pytest.mark.parametrize(
    ("dockerfile", "present", "chosen"),
    [
        ("Dockerfile", {".dockerignore"}, ".dockerignore"),
        ("Dockerfile", {".dockerignore", "Dockerfile.dockerignore"}, "Dockerfile.dockerignore"),
        (
            "sub/app.Dockerfile",
            {"sub/app.Dockerfile.dockerignore"},
            "sub/app.Dockerfile.dockerignore",
        ),
        ("./sub/app.Dockerfile", {"app.Dockerfile.dockerignore", ".dockerignore"}, ".dockerignore"),
        ("Dockerfile", set(), None),
    ],
)
def test_which_ignore_file(dockerfile: str, present: set[str], chosen: str | None) -> None:
    assert ignore_file_for(dockerfile, present.__contains__) == chosen
