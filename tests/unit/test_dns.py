"""The embedded resolver's wire format: queries built by hand, replies read back field by field."""

from __future__ import annotations

import struct
import subprocess
import sys
from typing import NamedTuple

import pytest

from berth.network import dns

A, PTR, MX, AAAA, ANY = 1, 12, 15, 28, 255
IN, CH = 1, 3
QR, AA, TC, RD, RA, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0010

TABLE = {
    "web": ["172.18.0.2"],
    "db": ["172.18.0.3", "172.18.0.4"],
    "0123456789ab": ["172.18.0.2"],
}


def lookup(name: str) -> list[str]:
    return TABLE.get(name, [])


def encode(name: str) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in (p.encode() for p in name.split(".") if p)) + b"\0"


def query(
    name: str = "web",
    qtype: int = A,
    qclass: int = IN,
    *,
    ident: int = 0x1234,
    flags: int = RD,
    qdcount: int = 1,
    arcount: int = 0,
    extra: bytes = b"",
) -> bytes:
    header = struct.pack("!HHHHHH", ident, flags, qdcount, 0, 0, arcount)
    return header + encode(name) + struct.pack("!HH", qtype, qclass) + extra


class Reply(NamedTuple):
    ident: int
    flags: int
    counts: tuple[int, int, int, int]
    question: bytes
    answers: list[tuple[int, int, int, int, bytes]]  # (name pointer, type, class, ttl, rdata)

    @property
    def rcode(self) -> int:
        return self.flags & 0x0F

    @property
    def addresses(self) -> list[str]:
        return [".".join(map(str, rdata)) for _, rtype, _, _, rdata in self.answers if rtype == A]


def parse(message: bytes | None) -> Reply:
    assert message is not None
    ident, flags, *counts = struct.unpack_from("!HHHHHH", message)
    offset = 12
    for _ in range(counts[0]):
        while message[offset]:
            offset += 1 + message[offset]
        offset += 5
    question = message[12:offset]
    answers = []
    for _ in range(counts[1]):
        pointer, rtype, rclass, ttl, size = struct.unpack_from("!HHHIH", message, offset)
        offset += 12
        answers.append((pointer, rtype, rclass, ttl, message[offset : offset + size]))
        offset += size
    assert offset == len(message)
    return Reply(ident, flags, (counts[0], counts[1], counts[2], counts[3]), question, answers)


def test_a_records_for_a_known_name() -> None:
    reply = parse(dns.answer(query("db"), lookup))
    assert reply.ident == 0x1234
    assert reply.flags & (QR | RD | RA) == QR | RD | RA
    assert not reply.flags & (AA | TC)
    assert reply.rcode == 0
    assert reply.counts == (1, 2, 0, 0)
    assert reply.question == encode("db") + struct.pack("!HH", A, IN)
    assert sorted(reply.addresses) == ["172.18.0.3", "172.18.0.4"]
    assert {a[:4] for a in reply.answers} == {(0xC00C, A, IN, 600)}


def test_flags_follow_the_query() -> None:
    reply = parse(dns.answer(query("web", flags=CD, ident=7), lookup))
    assert reply.ident == 7
    assert reply.flags & (QR | RD | RA | CD) == QR | RA | CD


def test_names_match_without_case_and_echo_the_asked_case() -> None:
    asked: list[str] = []

    def recording(name: str) -> list[str]:
        asked.append(name)
        return lookup(name)

    reply = parse(dns.answer(query("WeB."), recording))
    assert asked == ["web"]
    assert reply.addresses == ["172.18.0.2"]
    assert reply.question.startswith(b"\3WeB\0")
    assert parse(dns.answer(query("0123456789AB"), lookup)).addresses == ["172.18.0.2"]


@pytest.mark.parametrize("name", ["nobody", "web.example.com", "example.com", ""])
def test_names_not_ours_are_left_to_forward(name: str) -> None:
    assert dns.answer(query(name), lookup) is None


@pytest.mark.parametrize("qtype", [AAAA, MX, 16])
def test_other_types_of_a_known_name_get_no_answers(qtype: int) -> None:
    reply = parse(dns.answer(query("web", qtype), lookup))
    assert reply.rcode == 0
    assert reply.counts == (1, 0, 0, 0)
    assert reply.question == encode("web") + struct.pack("!HH", qtype, IN)


def test_any_type_and_any_class_get_the_addresses() -> None:
    assert parse(dns.answer(query("web", ANY), lookup)).addresses == ["172.18.0.2"]
    assert parse(dns.answer(query("web", A, 255), lookup)).addresses == ["172.18.0.2"]


def test_other_classes_are_forwarded() -> None:
    assert dns.answer(query("web", A, CH), lookup) is None


def test_addresses_come_in_random_order() -> None:
    many = [f"10.0.0.{i}" for i in range(1, 9)]
    orders = {tuple(parse(dns.answer(query("x"), lambda _: many)).addresses) for _ in range(20)}
    assert len(orders) > 1
    assert all(sorted(order) == sorted(many) for order in orders)


def test_bad_addresses_from_the_lookup_are_skipped() -> None:
    reply = parse(dns.answer(query("x"), lambda _: ["fd00::1", "10.0.0.300", "10.0.0.1"]))
    assert reply.addresses == ["10.0.0.1"]


def test_edns_opt_record_is_ignored() -> None:
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    reply = parse(dns.answer(query("web", arcount=1, extra=opt), lookup))
    assert reply.addresses == ["172.18.0.2"]
    assert reply.counts == (1, 1, 0, 0)


def test_replies_past_the_limit_are_truncated() -> None:
    many = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(100)]
    full = parse(dns.answer(query("x"), lambda _: many))
    assert len(full.answers) == 100
    assert not full.flags & TC
    message = dns.answer(query("x"), lambda _: many, limit=512)
    assert message is not None
    assert len(message) <= 512
    cut = parse(message)
    assert cut.flags & TC
    assert 0 < len(cut.answers) < 100
    assert cut.rcode == 0


def test_other_opcodes_are_not_implemented() -> None:
    reply = parse(dns.answer(query("web", flags=2 << 11 | RD), lookup))
    assert reply.rcode == 4
    assert reply.flags & 0x7800 == 2 << 11
    assert reply.counts == (0, 0, 0, 0)


MALFORMED = {
    "no question": query(qdcount=0),
    "two questions": query(qdcount=2),
    "cut in a label": query("web")[:14],
    "no terminating label": query("web")[:16],
    "no type and class": query("web")[:-3],
    "extended label type": struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x41abc\0" + b"\0\1\0\1",
    "pointer into the header": struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0\x02\0\1\0\1",
    "pointer loop": struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\1a\xc0\x0c\0\1\0\1",
    "pointer forward": struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0\x0e\1a\0\0\1\0\1",
    "cut pointer": struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0",
    "name over 255 bytes": query(".".join(["a" * 63] * 4)),
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_questions_get_formerr(message: bytes) -> None:
    reply = parse(dns.answer(message, lookup))
    assert reply.ident == struct.unpack("!H", message[:2])[0]
    assert reply.flags & QR
    assert reply.rcode == 1
    assert reply.counts == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "message", [b"", b"\x12\x34\x01", query()[:11], query(flags=QR | RD)], ids=str
)
def test_no_query_at_all_gets_none(message: bytes) -> None:
    assert dns.answer(message, lookup) is None


def test_a_name_of_exactly_255_bytes_is_fine() -> None:
    name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 3 * 64 + 62 + the root's byte = 255
    assert parse(dns.answer(query(name), lambda _: ["10.0.0.1"])).addresses == ["10.0.0.1"]


def reverse(address: str) -> list[str]:
    return {"172.18.0.2": ["web.apps"]}.get(address, [])


def test_ptr_for_a_known_address() -> None:
    reply = parse(dns.answer(query("2.0.18.172.in-addr.arpa", PTR), lookup, reverse))
    assert reply.rcode == 0
    assert reply.answers == [(0xC00C, PTR, IN, 600, encode("web.apps"))]
    nodata = parse(dns.answer(query("2.0.18.172.IN-ADDR.ARPA", A), lookup, reverse))
    assert nodata.counts == (1, 0, 0, 0)


@pytest.mark.parametrize(
    "name",
    [
        "9.0.18.172.in-addr.arpa",
        "02.0.18.172.in-addr.arpa",
        "300.0.18.172.in-addr.arpa",
        "0.18.172.in-addr.arpa",
        "x.2.0.18.172.in-addr.arpa",
        "in-addr.arpa",
    ],
)
def test_ptr_for_other_names_is_forwarded(name: str) -> None:
    assert dns.answer(query(name, PTR), lookup, reverse) is None


def test_ptr_without_reverse_is_forwarded() -> None:
    assert dns.answer(query("2.0.18.172.in-addr.arpa", PTR), lookup) is None


def test_upstream_servers() -> None:
    text = """\
# a comment
search example.com
domain example.com
nameserver 10.0.0.53  # trailing comment
nameserver\t1.1.1.1
nameserver 10.0.0.53
;nameserver 9.9.9.9
nameserver fd00::53
nameserver fe80::1%eth0
nameserver
nameserver not-an-address
nameserver 300.1.1.1
options ndots:2 edns0
"""
    assert dns.upstream_servers(text) == [
        ("10.0.0.53", 53),
        ("1.1.1.1", 53),
        ("fd00::53", 53),
        ("fe80::1%eth0", 53),
    ]
    assert dns.upstream_servers("") == []


def test_lookup_alias_exists_at_run_time() -> None:
    assert "Callable" in repr(dns.Lookup)
    with pytest.raises(AttributeError):
        _ = dns.Nothing


def test_importing_stays_light() -> None:
    code = (
        "import sys; import berth.network.dns; "
        "print(' '.join(sorted({'socket', 'threading', 'select', 'typing', 'collections',"
        " 'dataclasses', 'random', 'selectors'} & set(sys.modules))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == ""
