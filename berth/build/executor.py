"""Running a Dockerfile: the stages the target needs (only those), each in a thread of its own
as soon as the stages it reads are done, every step looked up in the build cache first.

A step's key is a hash of its parent's key, the instruction as it runs (expanded; a RUN's
argv with the build args it sees; a COPY's destination, owner and mode) and, for a COPY, the
content of what it copies (names, modes, bytes; never times). A hit gives the stage's whole
state at that step — config, layers and history since its FROM, with their creation times —
so an unchanged rebuild writes the same image, with the same id.
"""

from __future__ import annotations

import contextlib
import copy as copying
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from berth.build import config as configs
from berth.build.cache_from import Source, sources
from berth.build.instructions import Arg, Dockerfile, Instruction, Run, Stage
from berth.build.options import Options
from berth.build.state import StageRun, State, canceled, key_of
from berth.build.steps import BuildFailed, Canceled
from berth.build.steps import Services as StepServices
from berth.db import now
from berth.errors import BerthError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from collections.abc import Iterable

    from berth.build.context import Context
    from berth.build.progress import Progress
    from berth.build.records import BuildCache
    from berth.build.steps import Made
    from berth.container.copy_client import CopyServer
    from berth.image.making import Base
    from berth.image.records import ImageRecord
    from berth.image.service import ImageService

HISTORY_COMMENT = "buildkit.dockerfile.v0"


class Services(StepServices, Protocol):
    @property
    def image_service(self) -> ImageService: ...

    @property
    def build_cache(self) -> BuildCache: ...

    def monitor_ahead(self) -> None: ...


class Build:
    def __init__(
        self,
        services: Services,
        dockerfile: Dockerfile,
        context: Context | None,
        options: Options,
        progress: Progress,
        copier: CopyServer | None = None,
    ) -> None:
        self.services = services
        self.dockerfile = dockerfile
        self.context = context
        self.options = options
        self.progress = progress
        self._numbers = 0
        self._lock = threading.Lock()
        self._bases: dict[str, tuple[ImageRecord, Base]] = {}
        self._base_locks: dict[str, threading.Lock] = {}
        self._runs: dict[int, StageRun] = {}
        # Set when a stage fails, or by the caller (an API client gone): the stages stop at
        # their next step, a running RUN is killed.
        self.failed = options.canceled or threading.Event()
        self._copy_server = copier  # closed by `run`
        # The RUN steps: as many monitors are started ahead.
        self.runs = sum(i.keyword == "RUN" for s in dockerfile.stages for i in s.instructions)
        # What a replay of this build needs (berth.build.replay): each step's title, those
        # that went through the cache, their keys; `fetched`: a source came from a URL.
        self.titles: dict[int, str] = {}
        self.through_cache: set[int] = set()
        self.keys: list[str] = []
        self.hits: list[str] = []  # the keys of the steps the cache gave (marked used at the end)
        self.fetched = False
        from berth.build.context import Hashes
        from berth.build.scope import Scope, platform_args
        from berth.oci import host_platform

        self.hashes = context.hashes if context is not None else Hashes("", {})
        platform = host_platform()
        text = f"{platform.os}/{platform.architecture}"
        self.scope = Scope.global_scope(
            options.build_args, platform_args(text, text), dockerfile.escape
        )
        for instruction in dockerfile.global_args:
            assert isinstance(instruction.args, Arg)
            for definition in instruction.args.definitions:
                self.scope.declare_arg(definition.name, definition.default)

    # -- the plan ----------------------------------------------------------------------------

    def target(self) -> Stage:
        if self.options.target is None:
            return self.dockerfile.stages[-1]
        found = self.dockerfile.stage(self.options.target)
        if found is None:
            raise InvalidArgument(
                f"failed to reach build target {self.options.target} in Dockerfile"
            )
        return found

    def _stage_named(self, text: str, before: int) -> Stage | None:
        found = self.dockerfile.stage(text)
        return found if found is not None and found.index < before else None

    def dependencies(self, stage: Stage) -> list[Stage]:
        """The earlier stages a stage reads: its FROM, COPY --from, RUN --mount from=."""
        from berth.build.flags import mounted_from

        names = [self.scope.expand_word(stage.base)]
        for instruction in stage.instructions:
            source = getattr(instruction.args, "from_", "")
            if source:
                names.append(source)
            if isinstance(instruction.args, Run):
                names += mounted_from(instruction.args.mounts, self.scope.expand_word)
        found = [self._stage_named(name, stage.index) for name in names]
        return [s for s in found if s is not None]

    def needed(self, target: Stage) -> list[Stage]:
        wanted: dict[int, Stage] = {}
        pending = [target]
        while pending:
            stage = pending.pop()
            if stage.index not in wanted:
                wanted[stage.index] = stage
                pending.extend(self.dependencies(stage))
        return [wanted[i] for i in sorted(wanted)]

    # -- running ---------------------------------------------------------------------------

    def run(self) -> str:
        try:
            target = self.target()
            image_id = self._run(target, self.needed(target))
        finally:
            if self._copy_server is not None:
                self._copy_server.close()
                self._copy_server = None
        with contextlib.suppress(BerthError):  # best effort: the image is made
            self.services.build_cache.mark_used(self.hits)
        return image_id

    @cached_property
    def cache_sources(self) -> dict[str, Source]:
        """The --cache-from images' steps by key (read with the first step not cached)."""
        return sources(self.services, self.options.cache_from, self.progress.note)

    @property
    def copy_server(self) -> CopyServer:
        """One interpreter for the build's copies, forking per COPY: started with the first
        COPY that runs (a build from the cache starts none)."""
        from berth.container.copy_client import CopyServer

        with self._lock:
            if self._copy_server is None:
                self._copy_server = CopyServer()
            return self._copy_server

    def _run(self, target: Stage, stages: list[Stage]) -> str:
        from berth.image.making import holding_blobs

        with holding_blobs(self.services.layout):
            runs = self._runs
            for stage in stages:
                runs[stage.index] = StageRun(self, stage)
            try:
                # Started in here: an interrupt as they start (Ctrl-C as soon as the first
                # step shows) must stop those already running before the store is let go.
                for run in runs.values():
                    run.thread.start()
                final = runs[target.index].result()
            except BaseException:  # a stage failed, or the user interrupted: the rest stop
                self.failed.set()
                _join_started(runs.values())
                causes = [r.error for r in runs.values() if r.error and not canceled(r.error)]
                if causes:  # the stage that failed first, not one that stopped for it
                    raise causes[0] from None
                raise
            for run in runs.values():
                run.thread.join()
            from berth.build.exporting import export

            return export(self, final)

    def stage_result(self, stage: Stage) -> State:
        """An earlier stage's final state, once it is built (COPY --from)."""
        run = self._runs.get(stage.index)
        if run is None:
            raise InvalidArgument(f"stage {stage.name or stage.index} is not part of this build")
        return run.result()

    def number(self) -> int:
        with self._lock:
            self._numbers += 1
            return self._numbers

    def stage(self, stage: Stage) -> State:
        """Run one stage's steps (in its own thread)."""
        from berth.build.dockerfile import parse_triggers

        base_text = self.scope.expand_word(stage.base)
        parent = self._stage_named(base_text, stage.index)
        label = stage.name or f"stage-{stage.index}"
        total = len(stage.instructions) + 1
        number = self.number()
        self._announce(number, f"[{label} 1/{total}] FROM {base_text}")
        triggers: list[Instruction] = []
        if parent is not None:
            state = self.stage_result(parent).forked()
        elif base_text == "scratch":
            state = State(None, {}, {}, [], None, key_of("FROM", "scratch"))
        else:
            record, base = self.base_image(base_text)
            config = copying.deepcopy(dict(base.config.config))
            triggers = parse_triggers(list(config.pop("OnBuild", None) or []))
            state = State(record.id, config, {}, [], base.chain, key_of("FROM", record.id))
        self.progress.done(number)
        state.scope = self.scope.stage_scope(state.config.get("Env") or [])
        for position, instruction in enumerate([*triggers, *stage.instructions], start=2):
            if self.failed.is_set():
                raise Canceled("canceled: another stage failed")
            source = self._stage_named(getattr(instruction.args, "from_", ""), stage.index)
            if source is not None:
                self.stage_result(source)  # built before the step says it starts
            number = self.number()
            self._announce(number, f"[{label} {position}/{total}] {instruction.original}")
            try:
                state = self._step(number, instruction, state)
            except BerthError as error:
                self.progress.failed(number, error.message)
                raise
        return state

    def _announce(self, number: int, title: str) -> None:
        self.titles[number] = title
        self.progress.step(number, title)

    def resolved(self) -> dict[str, str]:
        """The base images found so far: the text asked for -> the image id."""
        with self._lock:
            return {text: record.id for text, (record, _) in self._bases.items()}

    def base_image(self, text: str) -> tuple[ImageRecord, Base]:
        """The image `text` names (pulled if it must be), looked up once for all stages: the
        stages that start from it at once wait for the first one's answer."""
        with self._lock:
            if text in self._bases:
                return self._bases[text]
            lock = self._base_locks.setdefault(text, threading.Lock())
        with lock:
            with self._lock:
                if text in self._bases:
                    return self._bases[text]
            found = self._find_base(text)
            with self._lock:
                self._bases[text] = found
            return found

    def _find_base(self, text: str) -> tuple[ImageRecord, Base]:
        from berth.image.making import base_of
        from berth.reference import parse

        images = self.services.image_service
        record = None
        if not self.options.pull:
            try:
                record = images.lookup(text)
            except NotFound:
                record = None
        if record is None:
            self.progress.note(f"pulling {text}")
            images.pull(parse(text))
            record = images.lookup(text)
        return record, base_of(self.services.content, record)

    def _step(self, number: int, instruction: Instruction, state: State) -> State:
        from berth.build.changing import changing

        scope = state.scope
        assert scope is not None
        if isinstance(instruction.args, Arg):
            for definition in instruction.args.definitions:
                scope.declare_arg(definition.name, definition.default)
            self.progress.done(number)
            return state
        if instruction.keyword in configs.METADATA:
            following = state.forked()
            following.scope = scope
            created_by = configs.apply(
                instruction, following.config, scope, following.top, cmd_set=state.cmd_set
            )
            following.cmd_set = state.cmd_set or instruction.keyword == "CMD"
            following.key = key_of(state.key, created_by)
            return self.cached(number, following, lambda: self.note(following, None, created_by))
        return changing(self, number, instruction, state)

    def note(self, state: State, made: Made | None, created_by: str) -> State:
        """`state` with a history entry (and the layer, when the step made one)."""
        entry = {"created": self.created(), "created_by": created_by, "comment": HISTORY_COMMENT}
        state.add(made.layer if made else None, entry, made.chain if made else None)
        return state

    def created(self) -> str:
        if self.options.epoch is not None:
            from datetime import UTC, datetime

            moment = datetime.fromtimestamp(self.options.epoch, UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return now()

    def cached(self, number: int, state: State, make: Any) -> State:
        """The step's state from the cache, or made (by `make`) and cached."""
        cache = self.services.build_cache
        self.through_cache.add(number)
        self.keys.append(state.key)
        entry = None if self.options.no_cache else cache.get(state.key)
        if entry is not None and self._usable(entry.chain, entry.result):
            self.progress.cached(number)
            self.hits.append(state.key)
            return State.restored(entry.result, entry.chain, state)
        source = self.cache_sources.get(state.key)
        if source is not None:  # --cache-from: the image's layer and history entry
            self.progress.cached(number)
            state.add(source.layer, dict(source.entry), source.chain)
            cache.put(state.key, state.chain, state.result(), self.created())
            return state
        self._missed()
        made: State = make()
        made.key = state.key
        cache.put(made.key, made.chain, made.result(), self.created())
        self.progress.done(number)
        return made

    def _missed(self) -> None:
        """A step the cache can't give: the steps after it run too. The first one starts a
        RUN's monitor ahead. (Importing a RUN's modules ahead in a thread too cost a cold
        build ~2% in A/B runs, against the GIL the steps' own Python work needs.)"""
        self.services.monitor_ahead()

    def _usable(self, chain: str | None, result: dict[str, Any]) -> bool:
        """Whether what a cache entry names is all still here (its base image too: an image
        removed since is a miss, not a failed export)."""
        if chain is not None and not self.services.layers.has_chain(chain):
            return False
        if result.get("base"):
            try:
                self.services.image_service.lookup(str(result["base"]))
            except NotFound:
                return False
        content = self.services.content
        return all(  # a layer without a blob is in the chain's layers, checked above
            layer is None or "digest" not in layer or content.exists(str(layer["digest"]))
            for layer, _ in result.get("additions") or []
        )


__all__ = ["Build", "BuildFailed", "Options", "State"]


def _join_started(runs: Iterable[StageRun]) -> None:
    """Wait for the stages' threads that were started (they are stopping: `failed` is set);
    another interrupt meanwhile doesn't cut the wait short, which would let the store go
    under a step still using it."""
    for run in runs:
        while run.thread.ident is not None and run.thread.is_alive():
            with contextlib.suppress(KeyboardInterrupt):
                run.thread.join()
