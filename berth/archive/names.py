"""Lexical normalisation of member names, as Docker's filepath.Clean does for layers.

This is tidiness, not the security boundary: the unpacker runs chrooted into the layer
directory, so a name can't reach outside whatever it says. Normalising keeps "/etc/x",
"./etc/x" and "etc/x" the same entry and clamps ".." at the layer's root. Stdlib only.
"""

from __future__ import annotations


def clean(name: bytes) -> bytes:
    """`name` relative to the layer root, without "", "." or ".." components (b"" = root)."""
    if not name.startswith((b".", b"/")) and b"/." not in name and b"//" not in name:
        return name.rstrip(b"/")  # no "", "." or ".." component: the common case
    parts: list[bytes] = []
    for part in name.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return b"/".join(parts)


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch from a PAX time ("1700000000.123456789", "-1.5")."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("+-").partition(".")
    ns = int(whole or "0") * 1_000_000_000 + int((fraction + "000000000")[:9])
    return -ns if negative else ns
