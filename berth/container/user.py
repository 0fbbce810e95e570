"""`-u user[:group]` and `--group-add` resolved the way Docker does (runc's user lookup), in
the container's own /etc/passwd and /etc/group (read from the mounted rootfs, never the
host's).

A name matches a name and a number a uid or gid. The process's groups are its primary gid,
then, only when no group was named, every group of the image's /etc/group that lists the
user, then the `--group-add` ones: so `id` shows `groups=` as in a Docker container.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from berth.errors import InvalidArgument

MAX_ID = 2**31 - 1


class User(NamedTuple):
    uid: int
    gid: int
    additional_gids: tuple[int, ...]  # the OCI process's additionalGids (setgroups)
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


def _number(text: str) -> int | None:
    """A uid or gid given as a number (in range), else None."""
    if not text.isdigit():
        return None
    value = int(text)
    if value > MAX_ID:
        raise InvalidArgument(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def resolve(rootfs: Path, spec: str, group_add: Sequence[str] = ()) -> User:
    """`""` is root; `name`, `uid`, `name:group`, `uid:gid` as in Docker; `group_add` are
    HostConfig.GroupAdd's names or numbers."""
    user_part, _, group_part = (spec or "0").partition(":")
    passwd = [e for e in _entries(rootfs / "etc" / "passwd") if len(e) >= 7]
    groups = [e for e in _entries(rootfs / "etc" / "group") if len(e) >= 3 and e[2].isdigit()]
    uid_given = _number(user_part)
    field = 0 if uid_given is None else 2
    match = next((e for e in passwd if e[field] == user_part and e[2].isdigit()), None)
    if match is not None:
        gid = int(match[3]) if match[3].isdigit() else 0
        uid, home, name = int(match[2]), match[5], match[0]
    elif uid_given is not None:
        uid, gid, home, name = uid_given, 0, "/", ""
    else:
        raise InvalidArgument(
            f"unable to find user {user_part}: no matching entries in passwd file"
        )
    supplementary: list[int] = []
    if group_part:
        gid_given = _number(group_part)
        field = 0 if gid_given is None else 2
        found = next((g for g in groups if g[field] == group_part), None)
        if found is not None:
            gid = int(found[2])
        elif gid_given is not None:
            gid = gid_given
        else:
            raise InvalidArgument(
                f"unable to find group {group_part}: no matching entries in group file"
            )
    elif name:  # supplementary groups only when the group is implicit, as runc
        supplementary = [int(g[2]) for g in groups if len(g) > 3 and name in g[3].split(",")]
    added = [_added_group(groups, text) for text in group_add]
    return User(uid, gid, tuple(dict.fromkeys([gid, *supplementary, *added])), home or "/")


def _added_group(groups: list[list[str]], text: str) -> int:
    """One `--group-add`: a group of the image's /etc/group by name or gid, or a number."""
    found = next((g for g in groups if text in (g[0], g[2])), None)
    if found is not None:
        return int(found[2])
    number = _number(text)
    if number is None:
        raise InvalidArgument(f"Unable to find group {text}: no matching entries in group file")
    return number
