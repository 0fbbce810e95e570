"""Which names `push`'s quick path takes (berth.image.push_repeat.named): a registry on this
machine, and only what Docker's rules let into a request line; anything else is the full
push's, which says what is wrong with it."""

from __future__ import annotations

import pytest

from berth.image.push_repeat import named


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("127.0.0.1:5000/team/app", ("127.0.0.1:5000", "team/app", "latest")),
        ("127.0.0.1:5000/team/app:v1.2_x-y", ("127.0.0.1:5000", "team/app", "v1.2_x-y")),
        ("localhost/app:1", ("localhost", "app", "1")),
        ("[::1]:5000/app:1", ("[::1]:5000", "app", "1")),
    ],
)
def test_names_of_a_registry_on_this_machine(name: str, parts: tuple[str, str, str]) -> None:
    assert named(name) == parts


@pytest.mark.parametrize(
    "name",
    [
        "registry.example.com/team/app:1",  # elsewhere: TLS, the full push
        "busybox",
        "library/busybox:1",
        "127.0.0.1:5000/team/app@sha256:" + "a" * 64,  # a digest: refused by the full push
        "127.0.0.1:5000/Team/app",
        "127.0.0.1:5000/app:1\r\nX-Injected: 1",
        "127.0.0.1:5000/a b",
        "127.0.0.1:5000/",
    ],
)
def test_other_names_are_the_full_push_s(name: str) -> None:
    assert named(name) is None
