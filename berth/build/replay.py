"""A rebuild with nothing changed, answered without the builder.

After a build from a context directory (the CLI's), the build cache notes a *replay* under
the build's *slot*, what was asked (the context root, the Dockerfile's path, the tags, build
args, target, labels, network, SOURCE_DATE_EPOCH and inline cache), with the *fingerprint* of
what the build could read: the Dockerfile's bytes, the ignore file's text, and what `stat`
says of every file, directory and link the ignore file lets a COPY see (mode, device, inode,
size, modify and change times; a link's text and its target's too). Beside it: the image
made, the base images the build resolved (by name or id), its tags, its steps' cache keys
and titles.

Asked the same again, with the same fingerprint, the same bases, and the image and every
cache entry still there, the builder would find each step in the cache and write that image
again. `berth.build.replay_records.answer` says so in one transaction that also does what
the build would have done to the store (the image tagged, the cache entries' use noted); the
CLI prints the steps as CACHED without parsing the Dockerfile or starting the builder
(berth.cli.commands.build's quick path, on the store opened by berth.db.direct: this module
and that one stay light).

The fingerprint is stricter than the cache keys (`stat`, not content): a false miss costs the
usual build, never a wrong image. It is taken before the build reads any file, and a build
notes it only when nothing it covers changed just before (berth.build.inputs.settled, as
`Hashes`): a change in the same tick of the file system's clock could leave a `stat` as it
was. A build that
fetched a URL (ADD) is not noted: its source may change with no trace here. `builder prune`
forgets every replay.
"""

from __future__ import annotations

import json
import os
import stat
import time

from berth.build.ignore import Matcher
from berth.build.inputs import ignore_text, settled, walk
from berth.errors import BerthError
from berth.small_hash import sha256
from berth.sys.rootpath import resolve_in_root

TYPE_CHECKING = False  # typing costs the quick path ~2 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

    from berth.build.executor import Build
    from berth.build.progress import Progress

MAX_ENTRIES = 20_000  # a larger context is not fingerprinted: walking it would cost too much
BY_ID, BY_NAME = "id", "name"  # how a base was found (berth.image.records.ImageStore.lookup)


class Fingerprint:
    __slots__ = ("settled", "slot", "value")

    def __init__(self, slot: str, value: str, settled: bool) -> None:
        self.slot = slot  # what was asked
        self.value = value  # what the build could read, as `stat` saw it before the build
        self.settled = settled  # nothing in it changed just before: it may be noted


class Replay:
    __slots__ = ("bases", "fingerprint", "image_id", "keys", "steps", "tags")

    def __init__(
        self,
        fingerprint: str,
        image_id: str,
        bases: list[tuple[str, str, str]],
        tags: list[tuple[str, str]],
        keys: list[str],
        steps: list[tuple[str, bool]],
    ) -> None:
        self.fingerprint = fingerprint
        self.image_id = image_id
        self.bases = bases  # (BY_ID or BY_NAME, the id or full name, the image id found)
        self.tags = tags  # (the full name, as shown)
        self.keys = keys  # the cache keys of the steps
        self.steps = steps  # each step's title, and whether it shows as CACHED


def fingerprint(
    root: str, dockerfile: bytes, dockerfile_name: str, asked: Mapping[str, object]
) -> Fingerprint | None:
    """The build's slot and fingerprint (`root`: the context directory, resolved; `asked`:
    the flags that choose the image); None when the context can't be fingerprinted (too
    large, a link to a directory, unreadable)."""
    described = json.dumps({"root": root, "dockerfile": dockerfile_name, **asked}, sort_keys=True)
    slot = sha256(described.encode()).hexdigest()
    try:
        text = ignore_text(root, dockerfile_name)
        hasher = sha256(dockerfile)
        hasher.update(b"\0" + text.encode() + b"\0")
        now, steady = time.time_ns(), True
        for count, (path, name, st) in enumerate(walk(Matcher.from_text(text), ".", root)):
            if count == MAX_ENTRIES:
                return None
            line, seen = name, [st]
            if stat.S_ISLNK(st.st_mode):
                line += "\0" + os.readlink(path)
                target = _target(root, name)
                if target is not None and stat.S_ISDIR(target.st_mode):
                    return None  # what it leads to may be hidden from the walk
                seen += [target] if target is not None else []
            for each in seen:
                steady = steady and settled(each, now)
                line += f"\0{each.st_mode}:{each.st_dev}:{each.st_ino}:{each.st_size}"
                line += f":{each.st_mtime_ns}:{each.st_ctime_ns}"
            hasher.update(line.encode(errors="surrogateescape") + b"\n")
    except (BerthError, OSError, UnicodeError):
        return None
    return Fingerprint(slot, hasher.hexdigest(), steady)


def _target(root: str, name: str) -> os.stat_result | None:
    """What a link of the context leads to, resolved inside the root as a COPY resolves it
    (None: nothing)."""
    try:
        return os.stat(resolve_in_root(root, "/" + name))
    except (BerthError, OSError):
        return None


def noted(build: Build, image_id: str, value: str) -> Replay | None:
    """What a rebuild of `build` from the cache would do again; None when a base image can't
    be found again the same way (by an id prefix)."""
    from berth.reference import is_digest, parse

    images = build.services.image_service.records
    bases = []
    for text, base_id in build.resolved().items():
        if is_digest(text):
            bases.append((BY_ID, text, base_id))
            continue
        try:
            name = str(parse(text))
        except BerthError:
            return None
        if (images.tagged(name) or images.digested(name)) != base_id:
            return None
        bases.append((BY_NAME, name, base_id))
    tags = [(str(tag), tag.familiar()) for tag in build.options.tags]
    steps = [(build.titles[n], n in build.through_cache) for n in sorted(build.titles)]
    return Replay(value, image_id, bases, tags, list(build.keys), steps)


def show(replay: Replay, progress: Progress) -> None:
    """The steps as a rebuild from the cache shows them, one after the other."""
    for number, (title, cached) in enumerate(replay.steps, start=1):
        progress.step(number, title)
        if cached:
            progress.cached(number)
        else:
            progress.done(number)
    progress.built(replay.image_id, [shown for _, shown in replay.tags])


def encode(replay: Replay) -> str:
    document = {
        "bases": replay.bases,
        "tags": replay.tags,
        "keys": replay.keys,
        "steps": replay.steps,
    }
    return json.dumps(document)


def decode(fingerprint: str, image_id: str, text: str) -> Replay | None:
    """A noted replay from its row; None if the row is damaged (then it is only a miss)."""
    try:
        document = json.loads(text)
        bases = [(str(kind), str(key), str(found)) for kind, key, found in document["bases"]]
        tags = [(str(name), str(shown)) for name, shown in document["tags"]]
        keys = [str(key) for key in document["keys"]]
        steps = [(str(title), bool(cached)) for title, cached in document["steps"]]
    except (ValueError, TypeError, KeyError):
        return None
    return Replay(fingerprint, image_id, bases, tags, keys, steps)
