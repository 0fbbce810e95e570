"""ADD's remote sources: an http(s) URL downloaded into the step's scratch directory, then
copied like a context file (so its content, not its URL, keys the cache).

As Docker's: the file is named after the URL's last path segment, gets mode 0600, and the
`Last-Modified` time when the server sends one; `--checksum=sha256:…` is checked before the
file is used. httpx is imported here only, when a build has such a source.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from berth.errors import DataLoss, InvalidArgument, Unavailable

TIMEOUT = 60.0
CHUNK = 1 << 20


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def download(url: str, directory: Path, checksum: str = "") -> Path:
    """Fetch `url` into `directory`; the file's path."""
    import httpx

    name = posixpath.basename(unquote(urlsplit(url).path))
    if not name or name in (".", ".."):
        raise InvalidArgument(f"cannot determine a file name for {url}")
    path = directory / name
    hasher = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise Unavailable(f"failed to fetch {url}: HTTP {response.status_code}")
            with open(path, "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
            modified = response.headers.get("last-modified")
    except httpx.HTTPError as error:
        raise Unavailable(f"failed to fetch {url}: {error}") from None
    digest = "sha256:" + hasher.hexdigest()
    if checksum and checksum != digest:
        raise DataLoss(f"digest mismatch for {url}: expected {checksum}, got {digest}")
    os.chmod(path, 0o600)
    if modified:
        try:
            moment = parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            os.utime(path, (moment, moment))
    return path
