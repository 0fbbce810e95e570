"""Image references, parsed and normalised by Docker's rules.

`postgres:14.5` is `docker.io/library/postgres:14.5`; a name without a tag means `latest`;
`name@sha256:...` pins a digest. `familiar()` gives back the short form Docker prints.
"""

import re
from typing import NamedTuple

from berth.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAINS = frozenset({"index.docker.io", "registry-1.docker.io"})
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_COMPONENT_RE = re.compile(rf"^{_COMPONENT}$")
_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")
MAX_NAME_LENGTH = 255


class Reference(NamedTuple):
    """A fully normalised reference: domain, path, and a tag and/or a digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """`docker.io/library/postgres`."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.domain, self.path, None, digest)

    @property
    def familiar_name(self) -> str:
        """The repository as Docker prints it: `postgres`, `user/app`, `host:5000/app`."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX):
                return self.path[len(OFFICIAL_REPO_PREFIX) :]
            return self.path
        return self.name

    def familiar(self) -> str:
        """The whole reference as Docker prints it: `postgres:14.5`."""
        text = self.familiar_name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag."""
        if self.digest is not None:
            return self.digest
        return self.tag or DEFAULT_TAG


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        domain = DEFAULT_DOMAIN if first in LEGACY_DEFAULT_DOMAINS else first
        path = rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise a reference as `docker pull` does.

    Raises InvalidArgument with Docker's wording for anything malformed. With `default_tag`
    a reference with neither tag nor digest gets `latest`.
    """
    if not text or text != text.strip():
        raise InvalidArgument(f'invalid reference format: "{text}"')
    if _HEX64_RE.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    remainder, at, digest = text.partition("@")
    if at:
        if not _DIGEST_RE.match(digest):
            raise InvalidArgument(f'invalid reference format: "{text}"')
        if digest.startswith("sha256:") and not _SHA256_RE.match(digest):
            raise InvalidArgument(f'invalid reference format: "{text}"')
    tag: str | None = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidArgument(f'invalid reference format: "{text}"')
    if not remainder:
        raise InvalidArgument(f'invalid reference format: "{text}"')
    domain, path = _split_domain(remainder)
    if domain != DEFAULT_DOMAIN and not _DOMAIN_RE.match(domain):
        raise InvalidArgument(f'invalid reference format: "{text}"')
    if any(not _COMPONENT_RE.match(part) for part in path.split("/")):
        if path.lower() != path:
            raise InvalidArgument(
                f"invalid reference format: repository name ({path}) must be lowercase"
            )
        raise InvalidArgument(f'invalid reference format: "{text}"')
    if len(f"{domain}/{path}") > MAX_NAME_LENGTH:
        raise InvalidArgument(f'invalid reference format: repository name too long: "{text}"')
    if tag is None and not at and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest if at else None)


def is_digest(text: str) -> bool:
    return bool(_SHA256_RE.match(text))
