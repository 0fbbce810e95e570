"""Docker's filter arguments in one shape: the CLI's `key=value` words and the API's JSON
(both of its forms), checked against a listing's keys and matched as Docker matches."""

from __future__ import annotations

import time

import pytest

from berth.errors import InvalidArgument
from berth.filters import Filters


def test_cli_words_and_both_json_forms_give_the_same_filters() -> None:
    words = Filters.from_cli(["label=a=b", "label=c", "status=exited"])
    modern = Filters.from_json('{"label": ["a=b", "c"], "status": ["exited"]}')
    legacy = Filters.from_json('{"label": {"a=b": true, "c": true}, "status": {"exited": true}}')
    for filters in (words, modern, legacy):
        assert filters.get("label") == ["a=b", "c"]
        assert filters.get("status") == ["exited"]
        assert "label" in filters and "name" not in filters
        assert filters


def test_no_filters_match_everything() -> None:
    for empty in (Filters(), Filters.from_cli([]), Filters.from_json(None), Filters.from_json("")):
        assert not empty
        assert empty.any("name", lambda v: False)
        assert empty.labels({})
        assert empty.boolean("dangling") is None
        assert empty.time("until") is None


@pytest.mark.parametrize("text", ["{", "[]", '{"label": "a"}', '{"label": [1]}', '"x"'])
def test_malformed_json_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid filters"):
        Filters.from_json(text)


def test_a_word_without_a_value_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="expected name=value"):
        Filters.from_cli(["dangling"])


def test_only_the_listings_keys_are_accepted() -> None:
    filters = Filters.from_cli(["name=web", "bogus=1"])
    with pytest.raises(InvalidArgument, match="invalid filter 'bogus'"):
        filters.only(["name", "label"])
    assert Filters.from_cli(["name=web"]).only(["name"]).get("name") == ["web"]


def test_values_of_one_key_or_and_keys_and() -> None:
    filters = Filters.from_cli(["name=web", "name=db"])
    assert filters.any("name", lambda v: v == "db")
    assert not filters.any("name", lambda v: v == "cache")


def test_labels_presence_value_and_negation() -> None:
    filters = Filters.from_cli(["label=tier", "label=env=prod"])
    assert filters.labels({"tier": "x", "env": "prod"})
    assert not filters.labels({"tier": "x", "env": "dev"})
    assert not filters.labels({"env": "prod"})
    assert not filters.labels(None)
    negated = Filters.from_cli(["label!=keep=yes"])
    assert negated.labels({"keep": "no"})
    assert not negated.labels({"keep": "yes"})


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("FALSE", False)])
def test_booleans(value: str, expected: bool) -> None:
    assert Filters.from_cli([f"dangling={value}"]).boolean("dangling") is expected


def test_a_bad_boolean_or_time_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="dangling=maybe"):
        Filters.from_cli(["dangling=maybe"]).boolean("dangling")
    with pytest.raises(InvalidArgument, match="until=yesterday"):
        Filters.from_cli(["until=yesterday"]).time("until")


def test_times_take_dockers_forms() -> None:
    now = time.time()
    relative = Filters.from_cli(["until=10m"]).time("until")
    assert relative is not None and abs(relative - (now - 600)) < 5
    assert Filters.from_json('{"until": ["1700000000"]}').time("until") == 1700000000


def test_names_match_as_regular_expressions() -> None:
    filters = Filters.from_cli(["name=^web$", "name=db"])
    assert filters.match("name", "web") and filters.match("name", "old-db")
    assert not filters.match("name", "web2")
    assert Filters().match("name", "anything")  # no name filter: everything
    broken = Filters.from_cli(["name=["])  # not an expression: only its own spelling
    assert broken.match("name", "[") and not broken.match("name", "a[b")
    assert Filters.from_cli(["name=^/x$"]).match("name", "/x", "x")
