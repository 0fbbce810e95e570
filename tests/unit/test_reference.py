"""Reference parsing and normalisation follow Docker's rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.errors import InvalidArgument
from berth.reference import parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "normalised", "familiar"),
    [
        ("postgres", "docker.io/library/postgres:latest", "postgres:latest"),
        ("postgres:14.5", "docker.io/library/postgres:14.5", "postgres:14.5"),
        ("user/app:1", "docker.io/user/app:1", "user/app:1"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
        ("quay.io/org/img:v1.2", "quay.io/org/img:v1.2", "quay.io/org/img:v1.2"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        (f"b:1@{DIGEST}", f"docker.io/library/b:1@{DIGEST}", f"b:1@{DIGEST}"),
        ("a__b-c/e", "docker.io/a__b-c/e:latest", "a__b-c/e:latest"),
    ],
)
def test_normalises_like_docker(text: str, normalised: str, familiar: str) -> None:
    reference = parse(text)
    assert str(reference) == normalised
    assert reference.familiar() == familiar


@pytest.mark.parametrize(
    "text",
    [
        "",
        "UPPER",
        "a:",
        ":tag",
        "a/:b",
        "a//b",
        "a@sha256:123",
        "a:b:c",
        "a__b.c-d/e",
        "-a",
        "a b",
        "a:" + "t" * 129,
        "a/" + "b" * 300,
        "b" * 64,
    ],
)
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse(text)


def test_uppercase_repository_names_the_problem() -> None:
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        parse("Foo/Bar")


def test_without_default_tag() -> None:
    assert parse("busybox", default_tag=False).tag is None


@given(
    st.from_regex(
        r"[a-z0-9]{1,10}(/[a-z0-9]{1,10}){0,2}(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,20})?", fullmatch=True
    )
)
def test_parse_round_trips(text: str) -> None:
    reference = parse(text)
    assert parse(str(reference)) == reference
    assert parse(reference.familiar()) == reference
