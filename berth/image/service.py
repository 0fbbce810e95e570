"""The image service: what `pull`, `tag`, `rmi`, `image prune` and `history` do, in
Docker's terms. Which containers use an image is asked through `ImageUsers`."""

from __future__ import annotations

import contextlib
import errno
from collections import Counter
from typing import TYPE_CHECKING, NamedTuple, Protocol

from berth import humanize, space
from berth.db import Database
from berth.errors import BerthError, Conflict, InvalidArgument, NoSpace, from_os_error
from berth.image import progress
from berth.image.progress import Reporter
from berth.image.records import ImageRecord, ImageStore
from berth.layout import Layout
from berth.reference import Reference, parse

if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.content import ContentStore
    from berth.events import Journal
    from berth.filters import Filters
    from berth.image.gc import Collected, Roots
    from berth.image.pull import PullResult
    from berth.image.push import PushResult
    from berth.oci import ImageConfig, Platform
    from berth.registry import CredentialSource, Registry
    from berth.snapshot import LayerStore


PRUNE_FILTERS = ("dangling", "until", "label", "label!")


class Removal(NamedTuple):
    """One line of `rmi`'s report: ("Untagged", "postgres:15") or ("Deleted", "sha256:...")."""

    action: str
    value: str


class HistoryEntry(NamedTuple):
    image_id: str | None  # only the top entry has an id for pulled images
    created: str | None
    created_by: str
    size: int
    comment: str
    empty_layer: bool


class ImageUsage(NamedTuple):
    record: ImageRecord
    shared_size: int
    unique_size: int


class ImageUser(NamedTuple):
    """A container that uses an image: its short id, and whether it may be running."""

    short_id: str
    active: bool


class ImageUsers(Protocol):
    """What the image service asks of the containers."""

    def image_users(self, image_id: str) -> list[ImageUser]: ...


class ImageService:
    def __init__(
        self,
        layout: Layout,
        database: Database,
        records: ImageStore,
        content: Callable[[], ContentStore],
        layers: Callable[[], LayerStore],
        users: Callable[[], ImageUsers],
        journal: Journal,
        roots: Callable[[], Roots] | None = None,
    ) -> None:
        """The content store, the layer store and the containers' side are given as
        providers, built on first use: looking an image up (`run`, `create`) needs only the
        records."""
        self.layout = layout
        self.database = database
        self.records = records
        self._content = content
        self._layers = layers
        self._image_users = users
        self.journal = journal
        self._roots = roots  # what else the collector keeps (the build cache)

    @property
    def content(self) -> ContentStore:
        return self._content()

    @property
    def layers(self) -> LayerStore:
        return self._layers()

    def registry(self, credentials: CredentialSource | None = None) -> Registry:
        """A registry client; `credentials`: what to log in with instead of the ones
        Docker's config.json holds (a client's own, sent with an API request)."""
        from berth.registry import CredentialStore, RegistriesConfig, Registry

        source = credentials if credentials is not None else CredentialStore()
        return Registry(RegistriesConfig.load(self.layout.root), source)

    def pull(
        self,
        reference: Reference,
        *,
        platform: Platform | None = None,
        max_concurrent_downloads: int = 3,
        report: Reporter = progress.ignore,
        registry: Registry | None = None,
    ) -> PullResult:
        from berth.image.pull import Puller

        puller = Puller(
            self.layout,
            self.database,
            self.content,
            self.layers,
            self.records,
            registry or self.registry(),
            max_concurrent_downloads=max_concurrent_downloads,
            report=report,
        )
        from berth.oci import host_platform

        try:
            result = puller.pull(reference, platform or host_platform())
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._free_after_full_disk()
            raise from_os_error(error) from None
        except NoSpace:
            self._free_after_full_disk()
            raise
        name = reference.familiar()
        self.journal.record("image", "pull", name, {"name": name.rpartition(":")[0] or name})
        return result

    def push(
        self,
        record: ImageRecord,
        reference: Reference,
        *,
        max_concurrent_uploads: int = 5,
        report: Reporter = progress.ignore,
        registry: Registry | None = None,
    ) -> PushResult:
        from berth.image.push import Pusher

        pusher = Pusher(
            self.layout,
            self.content,
            self.records,
            registry or self.registry(),
            max_concurrent_uploads=max_concurrent_uploads,
            report=report,
        )
        result = pusher.push(record, reference)
        name = reference.familiar()
        self.journal.record("image", "push", name, {"name": name.rpartition(":")[0] or name})
        return result

    def _free_after_full_disk(self) -> None:
        """What a pull that filled the disk wrote goes: the layers it committed that no image
        uses (its partial download and unpack directory went with their failures)."""
        space.make_room(self.layout.reserve)
        with contextlib.suppress(BerthError, OSError):
            self.collect()

    # -- reading ---------------------------------------------------------------------------

    def all(self) -> list[ImageRecord]:
        return self.records.all()

    def lookup(self, text: str) -> ImageRecord:
        return self.records.lookup(text)

    def config(self, record: ImageRecord) -> ImageConfig:
        from berth.oci import parse_config

        return parse_config(self.content.read(record.id))

    def history(self, text: str) -> list[HistoryEntry]:
        record = self.lookup(text)
        config = self.config(record)
        sizes = [self.layer_size(diff_id) for diff_id in config.diff_ids]
        entries: list[HistoryEntry] = []
        layer_index = 0
        for item in config.history:
            empty = bool(item.get("empty_layer"))
            size = 0
            if not empty and layer_index < len(sizes):
                size = sizes[layer_index]
                layer_index += 1
            entries.append(
                HistoryEntry(
                    None,
                    str(item["created"]) if item.get("created") else None,
                    str(item.get("created_by") or ""),
                    size,
                    str(item.get("comment") or ""),
                    empty,
                )
            )
        if not entries:  # an image built without history: one row per layer
            entries = [HistoryEntry(None, config.created, "", size, "", False) for size in sizes]
        entries.reverse()
        if entries:
            entries[0] = entries[0]._replace(image_id=record.id)
        return entries

    def layer_size(self, diff_id: str) -> int:
        layer = self.layers.layer(diff_id)
        return layer.size if layer else 0

    def usage(self) -> list[ImageUsage]:
        """Each image's size split into shared (with another image) and unique parts."""
        records = self.all()
        layer_sets = {r.id: set(self.config(r).diff_ids) for r in records}
        users = Counter(diff_id for layers in layer_sets.values() for diff_id in layers)
        result = []
        for record in records:
            shared = sum(self.layer_size(d) for d in layer_sets[record.id] if users[d] > 1)
            result.append(ImageUsage(record, shared, record.size - shared))
        return result

    def layers_size(self) -> int:
        """Bytes of all unpacked layers, each counted once."""
        return self.layers.usage()

    def layer_dirs(self, record: ImageRecord) -> list[str]:
        """The image's layer directories, top first."""
        if record.top_chain is None:
            return []
        return [str(layer.path) for layer in self.layers.chain_layers(record.top_chain)]

    # -- changing --------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> None:
        record = self.lookup(source)
        reference = parse(target)
        if reference.digest is not None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        self.records.tag(record.id, reference)
        self.journal.record("image", "tag", record.id, {"name": reference.familiar()})

    def users_of(self, image_id: str) -> list[ImageUser]:
        return self._image_users().image_users(image_id)

    def remove(self, text: str, *, force: bool = False) -> list[Removal]:
        """Docker's rmi: untag, and delete the image with its last name unless a container
        still uses it (then it must be forced, and stays as long as the container does)."""
        record = self.lookup(text)
        removals = self._remove(record, text, force)
        self._announce(record.id, removals)
        return removals

    def _announce(self, image_id: str, removals: list[Removal]) -> None:
        """`untag` for each name gone, `delete` for the image (its layers are not images)."""
        for removal in removals:
            if removal.action.lower() == "untagged":
                self.journal.record("image", "untag", image_id, {"name": removal.value})
        if any(r.action.lower() == "deleted" and r.value == image_id for r in removals):
            self.journal.record("image", "delete", image_id, {"name": image_id})

    def _remove(self, record: ImageRecord, text: str, force: bool) -> list[Removal]:
        short = record.id[7:19]
        users = self.users_of(record.id)
        removals: list[Removal] = []
        name = _matching_name(text, record)
        if name is not None:
            remaining = [n for n in record.tags if n != name]
            if not remaining and users and not force:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{text}" (must force) - '
                    f"container {users[0].short_id} is using its referenced image {short}"
                )
            self.records.untag(name)
            removals.append(Removal("Untagged", _familiar(name)))
            if remaining or users:
                return removals
            record = self.records.get(record.id)
        elif users:
            running = [u for u in users if u.active]
            if running:
                raise Conflict(
                    f"conflict: unable to delete {short} (cannot be forced) - image is being "
                    f"used by running container {running[0].short_id}"
                )
            if not force:
                raise Conflict(
                    f"conflict: unable to delete {short} (must be forced) - image is being "
                    f"used by stopped container {users[0].short_id}"
                )
        else:
            repositories = {_repository(n) for n in (*record.tags, *record.digests)}
            if len(repositories) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {short} (must be forced) - image is "
                    "referenced in multiple repositories"
                )
        for other in (*record.tags, *record.digests):
            self.records.untag(other)
            removals.append(Removal("Untagged", _familiar(other)))
        if users:
            return removals  # forced: the names go, the image stays while containers use it
        self.records.delete(record.id)
        removals.append(Removal("Deleted", record.id))
        collected = self.collect()
        removals += [Removal("Deleted", chain) for chain in collected.chains]
        return removals

    def prune(self, filters: Filters) -> tuple[list[Removal], int]:
        """Remove dangling images (every unused one with `dangling=false`, as `-a` asks)
        created before `until`, with the labels asked for; images containers use stay.
        Returns what was removed and the bytes reclaimed."""
        filters.only(PRUNE_FILTERS)
        every = filters.boolean("dangling") is False
        until = filters.time("until")
        removals: list[Removal] = []
        for record in self.all():
            if not (record.dangling or every) or self.users_of(record.id):
                continue
            if until is not None and humanize.timestamp(record.created) >= until:
                continue
            if ("label" in filters or "label!" in filters) and not filters.labels(
                self.config(record).config.get("Labels")
            ):
                continue
            removed = [Removal("untagged", _familiar(n)) for n in (*record.tags, *record.digests)]
            self.records.delete(record.id)
            removed.append(Removal("deleted", record.id))
            self._announce(record.id, removed)
            removals += removed
        collected = self.collect()
        removals += [Removal("deleted", chain) for chain in collected.chains]
        return removals, collected.layers_bytes + collected.blobs_bytes + collected.scratch_bytes

    def collect(self) -> Collected:
        """Free what no image (nor the build cache) needs: chains, layers, blobs."""
        from berth.image.gc import collect

        roots = self._roots() if self._roots is not None else ([], set())
        return collect(self.layout, self.content, self.layers, self.records, roots)


def _matching_name(text: str, record: ImageRecord) -> str | None:
    try:
        reference = parse(text)
    except InvalidArgument:
        return None
    name = str(reference)
    return name if name in record.tags or name in record.digests else None


def _repository(name: str) -> str:
    if "@" in name:
        return name.partition("@")[0]
    return name.rpartition(":")[0]


def _familiar(name: str) -> str:
    try:
        return parse(name).familiar()
    except InvalidArgument:
        return name
