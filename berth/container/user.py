"""`-u user[:group]` resolved the way Docker does, in the container's own /etc/passwd and
/etc/group (read from the mounted rootfs, never the host's)."""

from pathlib import Path
from typing import NamedTuple

from berth.errors import InvalidArgument


class User(NamedTuple):
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _entries(path: Path) -> list[list[str]]:
    """Colon-separated records of a passwd/group file; a missing file has none. The file is
    read from inside the rootfs without following a symlink out of it."""
    try:
        if path.is_symlink():
            return []
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve(rootfs: Path, spec: str) -> User:
    """`""` is root; `name`, `uid`, `name:group`, `uid:gid` as in Docker."""
    user_part, _, group_part = (spec or "0").partition(":")
    passwd = [e for e in _entries(rootfs / "etc" / "passwd") if len(e) >= 7]
    groups = [e for e in _entries(rootfs / "etc" / "group") if len(e) >= 3]
    match = next((e for e in passwd if e[0] == user_part or e[2] == user_part), None)
    if match is not None:
        uid, gid, home, name = int(match[2]), int(match[3]), match[5], match[0]
    elif user_part.isdigit():
        uid, gid, home, name = int(user_part), 0, "/", ""
    else:
        raise InvalidArgument(
            f"unable to find user {user_part}: no matching entries in passwd file"
        )
    if group_part:
        found = next((g for g in groups if group_part in (g[0], g[2])), None)
        if found is not None:
            gid = int(found[2])
        elif group_part.isdigit():
            gid = int(group_part)
        else:
            raise InvalidArgument(
                f"unable to find group {group_part}: no matching entries in group file"
            )
    extra = tuple(
        sorted(
            {
                int(g[2])
                for g in groups
                if len(g) > 3 and name in g[3].split(",") and int(g[2]) != gid
            }
        )
        if name
        else ()
    )
    return User(uid, gid, extra, home or "/")
