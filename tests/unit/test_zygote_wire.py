"""The request a client hands the preloaded CLI: what it encodes is what the zygote decodes,
whatever bytes an argument or a variable holds; anything else is refused (None)."""

from __future__ import annotations

import pytest

from berth.cli.zygote_wire import Request, decode, encode

STREAMS = [b"utf-8", b"strict", b"0", b"0"] + [b"utf-8", b"backslashreplace", b"1", b"0"] * 2


def _request(**changes: object) -> Request:
    fields: dict[str, object] = {
        "argv": [b"berth", b"build", b"", b"a\nb", b"3\n4", b"\xff\xfe"],
        "environ": [b"PATH=/bin", b"EMPTY=", b"ODD=x=y\n2"],
        "fds": [(0, False), (1, False), (2, False), (7, True)],
        "ignored": [1, 13],
        "streams": STREAMS,
    }
    fields.update(changes)
    return Request(**fields)  # type: ignore[arg-type]


def test_a_request_comes_back_as_it_was_sent() -> None:
    sent = _request()
    received = decode(encode(sent))
    assert received is not None
    for field in Request.__slots__:
        assert getattr(received, field) == getattr(sent, field)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],  # cut short
        lambda data: data + b"0\n",  # trailing bytes
        lambda data: b"2" + data[1:],  # another version's count
        lambda data: data.replace(b"1\n1", b"1\n9", 1),  # an item longer than the message
        lambda data: b"",
        lambda data: b"x\n" + data,
    ],
)
def test_a_damaged_request_is_refused(damage: object) -> None:
    assert callable(damage)
    assert decode(damage(encode(_request()))) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"argv": []},  # no program name
        {"streams": STREAMS[:-1]},  # a stream's settings missing
        {"fds": [(-1, False)]},
        {"ignored": [0]},
        {"ignored": [65]},
    ],
)
def test_a_request_no_client_sends_is_refused(changes: dict[str, object]) -> None:
    assert decode(encode(_request(**changes))) is None
