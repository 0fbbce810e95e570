"""Bring a network interface up with the SIOCSIFFLAGS ioctl, as `ip link set lo up` would.

The container init calls this for the loopback of a new network namespace. The socket the
ioctl needs comes from libc through ctypes rather than the socket module, which costs the
init ~2.5 ms of imports on every container start. Imports ctypes, fcntl, os, struct.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

from berth.sys._libc import check, libc

AF_INET = 2
SOCK_DGRAM = 2
SOCK_CLOEXEC = 0o2000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags in a 24-byte union

libc.socket.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
libc.socket.restype = ctypes.c_int


def set_up(name: str) -> None:
    """Set IFF_UP on interface `name` of the caller's network namespace."""
    fd = int(libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0))
    check(fd, "socket(AF_INET, SOCK_DGRAM)")
    try:
        encoded = name.encode()
        request = struct.pack(_IFREQ, encoded, 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(fd, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(fd, SIOCSIFFLAGS, struct.pack(_IFREQ, encoded, flags | IFF_UP))
    finally:
        os.close(fd)
