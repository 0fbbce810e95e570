"""Parsing of `WWW-Authenticate` challenges (RFC 7235), as registries send them.

Registries answer an unauthenticated request with a challenge such as
`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"`.
A naive split on commas breaks on the comma inside the quoted scope, and one header may carry
several challenges (`Basic realm="x", Bearer realm="y"`), so this is a small scanner over
tokens and quoted strings. Pure code: imports nothing from httpx.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# RFC 7230 "tchar": the characters a token (scheme or parameter name) may contain.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: its scheme (lower-cased) and its parameters.

    Parameter names are lower-cased too (they are case-insensitive); values are kept as sent.
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_separators(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t,":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        # Called on the opening quote; a missing closing quote takes the rest of the text.
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                break
            chars.append(char)
        return "".join(chars)

    def value(self) -> str:
        if self.peek() == '"':
            return self.quoted()
        # Be lenient with unquoted values some servers send (e.g. a bare URL): up to a comma.
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ", \t":
            self.pos += 1
        return self.text[start : self.pos]


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """All challenges in the given `WWW-Authenticate` header values, in order.

    Malformed fragments are skipped rather than raised: a challenge we cannot read is one we
    cannot answer, and the caller reports the 401 it came with.
    """
    challenges: list[Challenge] = []
    for header in headers:
        scanner = _Scanner(header)
        scheme: str | None = None
        params: dict[str, str] = {}
        while True:
            scanner.skip_separators()
            if not scanner.peek():
                break
            word = scanner.token()
            if not word:
                # An unexpected character: step over it (a stray quoted string as a whole).
                if scanner.peek() == '"':
                    scanner.quoted()
                else:
                    scanner.pos += 1
                continue
            scanner.skip_space()
            if scanner.peek() == "=" and scheme is not None:
                scanner.pos += 1
                scanner.skip_space()
                params[word.lower()] = scanner.value()
                continue
            if scanner.peek() == "=":
                # token68 credentials or a parameter before any scheme: not a challenge
                scanner.pos += 1
                scanner.value()
                continue
            if scheme is not None:
                challenges.append(Challenge(scheme, params))
            scheme, params = word.lower(), {}
        if scheme is not None:
            challenges.append(Challenge(scheme, params))
    return challenges


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of a scheme (`bearer` or `basic`)."""
    for challenge in challenges:
        if challenge.scheme == scheme:
            return challenge
    return None
