"""WWW-Authenticate parsing: quoted strings, commas inside values, several challenges."""

from __future__ import annotations

from berth.registry.challenge import Challenge, find_challenge, parse_challenges


def test_docker_hub_bearer_challenge() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull",
            },
        )
    ]


def test_comma_inside_quoted_scope_stays_in_the_value() -> None:
    [challenge] = parse_challenges(['Bearer realm="r",scope="repository:a/b:pull,push"'])
    assert challenge.scope == "repository:a/b:pull,push"
    assert challenge.realm == "r"


def test_several_challenges_in_one_header_and_across_headers() -> None:
    found = parse_challenges(['Basic realm="x", Bearer realm="y",service="s"', 'Bearer realm="z"'])
    assert [c.scheme for c in found] == ["basic", "bearer", "bearer"]
    assert find_challenge(found, "bearer") == Challenge("bearer", {"realm": "y", "service": "s"})


def test_scheme_and_parameter_names_are_case_insensitive() -> None:
    [challenge] = parse_challenges(['BEARER Realm="r", SERVICE="s"'])
    assert challenge == Challenge("bearer", {"realm": "r", "service": "s"})


def test_escaped_quotes_whitespace_and_unquoted_values() -> None:
    [challenge] = parse_challenges(['Bearer  realm = "a\\"b" ,  service=plain , error="x"'])
    assert challenge.params == {"realm": 'a"b', "service": "plain", "error": "x"}


def test_bare_scheme_and_garbage_do_not_raise() -> None:
    assert parse_challenges(["Basic"]) == [Challenge("basic", {})]
    assert parse_challenges(["", ",,,", '"unterminated']) == []
    [challenge] = parse_challenges(['Bearer realm="unterminated'])
    assert challenge.realm == "unterminated"
    assert find_challenge([], "basic") is None
