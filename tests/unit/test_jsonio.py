"""berth.jsonio: the stdlib's codec and orjson (what `berth serve` switches to) read and write
the same documents, orjson's refusals going to the stdlib."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator

import pytest

from berth import jsonio
from berth.db.columns import decoded

DOCUMENTS = [
    '{"Cmd": ["sh", "-c", "echo \\u00e9t\\u00e9"], "Labels": {"a": "b"}}',
    '{"Env": ["BYTES=\\udcff\\udcfe"]}',  # an argument's undecodable bytes (surrogateescape)
    '{"Ratio": NaN}',
    '{"Nested": ' + "[" * 2000 + "]" * 2000 + "}",  # deeper than orjson takes
    '{"Torn": ',
    "[1, 2]",
]


@pytest.fixture(params=["stdlib", "orjson"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(jsonio, "_fast_loads", None)
    monkeypatch.setattr(jsonio, "_fast_dumps", None)
    if request.param == "orjson":
        assert jsonio.prefer_fast()
    yield str(request.param)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_both_codecs_decode_a_column_alike(codec: str, text: str) -> None:
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        assert decoded(text) is None
        return
    got = decoded(text)
    if not isinstance(expected, dict):
        assert got is None
    elif isinstance(expected.get("Ratio"), float):
        assert math.isnan(got["Ratio"])
    else:
        assert got == expected


def test_both_codecs_encode_alike(codec: str) -> None:
    for value in (
        {"Id": "abc", "Names": ["/x"], "Labels": {}, "Created": 1700000000},
        {"Size": 2**70},  # orjson refuses: the stdlib writes it
        {1: "an int key"},  # orjson refuses: the stdlib makes it "1"
        ["\u00e9", None, True, 1.5],
    ):
        assert json.loads(jsonio.dumps(value)) == json.loads(json.dumps(value))
    assert jsonio.dumps({"a": [1, 2]}) == b'{"a":[1,2]}'


def test_the_cli_does_not_import_orjson() -> None:
    """orjson's import costs ~15 ms; only `berth serve` asks for it."""
    code = "import sys; from berth.db import columns; from berth.monitor import files; " \
        "columns.decoded('{}'); print('orjson' in sys.modules)"  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
