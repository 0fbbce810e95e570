"""A stage's state as a build goes (its base image, config and what it made since its FROM),
as the build cache stores it, and a stage running in a thread of its own."""

from __future__ import annotations

import copy as copying
import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from berth.build.steps import Canceled

if TYPE_CHECKING:
    from berth.build.executor import Build
    from berth.build.instructions import Stage
    from berth.build.scope import Scope
    from berth.image.making import LayerMade


class State:
    """A stage's result so far: its base image and what it made since."""

    __slots__ = (
        "additions",
        "base_id",
        "chain",
        "cmd_set",
        "config",
        "key",
        "keys",
        "scope",
        "top",
    )

    def __init__(
        self,
        base_id: str | None,
        config: dict[str, Any],
        top: dict[str, Any],
        additions: list[tuple[LayerMade | None, dict[str, Any]]],
        chain: str | None,
        key: str,
        cmd_set: bool = False,
        keys: list[str | None] | None = None,
    ) -> None:
        self.base_id = base_id
        self.config = config
        self.top = top
        self.additions = additions
        self.chain = chain
        self.key = key
        self.cmd_set = cmd_set
        # The key of the step that made each addition (an inline cache names them).
        self.keys: list[str | None] = keys if keys is not None else [None] * len(additions)
        self.scope: Scope | None = None

    def result(self) -> dict[str, Any]:
        return {
            "base": self.base_id,
            "config": self.config,
            "top": self.top,
            "cmd_set": self.cmd_set,
            "additions": [[layer_json(m), entry] for m, entry in self.additions],
            "keys": self.keys,
        }

    @classmethod
    def restored(cls, result: dict[str, Any], chain: str | None, state: State) -> State:
        """`state`'s step as a cache entry's `result` gives it."""
        additions = [(layer_of(layer), dict(entry)) for layer, entry in result["additions"]]
        restored = State(
            result.get("base"),
            dict(result.get("config") or {}),
            dict(result.get("top") or {}),
            additions,
            chain,
            state.key,
            bool(result.get("cmd_set")),
            list(result.get("keys") or [None] * len(additions)),
        )
        restored.scope = state.scope
        return restored

    def forked(self) -> State:
        return State(
            self.base_id,
            copying.deepcopy(self.config),
            dict(self.top),
            list(self.additions),
            self.chain,
            self.key,
            self.cmd_set,
            list(self.keys),
        )

    def add(self, layer: LayerMade | None, entry: dict[str, Any], chain: str | None) -> None:
        """The step keyed `self.key` added a history entry (and the layer, if it made one)."""
        self.additions.append((layer, entry))
        self.keys.append(self.key)
        if layer is not None:
            self.chain = chain


def layer_json(made: LayerMade | None) -> dict[str, Any] | None:
    """A layer in a cache entry: its blob's descriptor, or for one only measured so far the
    time its files were clamped to, which packing it again needs."""
    if made is None:
        return None
    blob = made.blob
    if blob is None:
        return {"diff_id": made.diff_id, "content_size": made.content_size, "epoch": made.epoch}
    return {
        "diff_id": made.diff_id,
        "digest": blob.digest,
        "size": blob.size,
        "mediaType": blob.media_type,
        "content_size": made.content_size,
    }


def layer_of(document: dict[str, Any] | None) -> LayerMade | None:
    from berth.image.making import LayerMade
    from berth.oci import Descriptor

    if document is None:
        return None
    diff_id, content_size = str(document["diff_id"]), int(document["content_size"])
    if "digest" not in document:
        epoch = document.get("epoch")
        return LayerMade(diff_id, None, content_size, None if epoch is None else int(epoch))
    blob = Descriptor(str(document["mediaType"]), str(document["digest"]), int(document["size"]))
    return LayerMade(diff_id, blob, content_size)


def key_of(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def canceled(error: BaseException) -> bool:
    return isinstance(error, Canceled)


class StageRun:
    """One stage in a thread of its own; its result (or error) for whoever waits on it."""

    def __init__(self, build: Build, stage: Stage) -> None:
        self.build = build
        self.stage = stage
        self.done = threading.Event()
        self.state: State | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"stage-{stage.index}")

    def _run(self) -> None:
        try:
            self.state = self.build.stage(self.stage)
        except BaseException as error:  # handed to whoever waits on this stage
            self.error = error
            self.build.failed.set()
        finally:
            self.done.set()

    def result(self) -> State:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.state is not None
        return self.state
