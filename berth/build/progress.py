"""What a build says while it runs: one event model, two renderings.

`PlainProgress` writes BuildKit's plain lines (`#3 [2/4] RUN make`, `#3 0.412 output…`,
`#3 CACHED`, `#3 DONE 1.2s`), what `docker build --progress=plain` prints; stages run at
once, so their lines interleave, each prefixed by its step number. `StreamProgress` gives the
classic builder's JSON stream for the Engine API (`{"stream": "Step 1/4 : FROM busybox\\n"}`,
`{"aux": {"ID": …}}`), what the docker CLI's legacy builder and docker-py read.
"""

from __future__ import annotations

import _thread  # threading's Lock is this one: threading and typing cost the quick path ~3 ms
import json
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Protocol

    class Progress(Protocol):
        def step(self, number: int, title: str) -> None:
            """A step starts: `title` is `[stage 2/5] RUN make` or `[internal] …`."""

        def cached(self, number: int) -> None: ...

        def output(self, number: int, text: str) -> None:
            """A line a RUN's process wrote."""

        def done(self, number: int) -> None: ...

        def failed(self, number: int, message: str) -> None: ...

        def note(self, text: str) -> None:
            """The export's lines: `writing image sha256:…`, `naming to …`."""

        def built(self, image_id: str, tags: list[str]) -> None: ...


class PlainProgress:
    def __init__(self, out: IO[str], quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self._lock = _thread.allocate_lock()
        self._started: dict[int, float] = {}
        self._first: dict[int, float] = {}

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self.out.write(text)
            self.out.flush()

    def step(self, number: int, title: str) -> None:
        self._started[number] = time.monotonic()
        self._write(f"\n#{number} {title}\n")

    def cached(self, number: int) -> None:
        self._write(f"#{number} CACHED\n")

    def output(self, number: int, text: str) -> None:
        elapsed = time.monotonic() - self._started.get(number, time.monotonic())
        lines = text.splitlines() or [""]
        self._write("".join(f"#{number} {elapsed:.3f} {line}\n" for line in lines))

    def done(self, number: int) -> None:
        elapsed = time.monotonic() - self._started.get(number, time.monotonic())
        self._write(f"#{number} DONE {elapsed:.1f}s\n")

    def failed(self, number: int, message: str) -> None:
        self._write(f"#{number} ERROR: {message}\n")

    def note(self, text: str) -> None:
        self._write(f"#0 {text}\n")

    def built(self, image_id: str, tags: list[str]) -> None:
        self.note(f"writing image {image_id} done")
        for tag in tags:
            self.note(f"naming to {tag} done")


class StreamProgress:
    """The classic builder's JSON messages, each handed to `emit` as bytes."""

    def __init__(self, emit: Callable[[bytes], None], quiet: bool = False) -> None:
        self.emit = emit
        self.quiet = quiet
        self._lock = _thread.allocate_lock()

    def _message(self, **document: object) -> None:
        with self._lock:
            self.emit(json.dumps(document).encode() + b"\r\n")

    def _stream(self, text: str) -> None:
        if not self.quiet:
            self._message(stream=text)

    def step(self, number: int, title: str) -> None:
        self._stream(f"Step {number} : {title}\n")

    def cached(self, number: int) -> None:
        self._stream(" ---> Using cache\n")

    def output(self, number: int, text: str) -> None:
        self._stream(text if text.endswith("\n") else text + "\n")

    def done(self, number: int) -> None:
        pass

    def failed(self, number: int, message: str) -> None:
        with self._lock:
            payload = {"errorDetail": {"message": message}, "error": message}
            self.emit(json.dumps(payload).encode() + b"\r\n")

    def note(self, text: str) -> None:
        self._stream(text + "\n")

    def built(self, image_id: str, tags: list[str]) -> None:
        self._message(aux={"ID": image_id})
        if self.quiet:
            self._message(stream=image_id + "\n")
            return
        self._stream(f"Successfully built {image_id.removeprefix('sha256:')[:12]}\n")
        for tag in tags:
            self._stream(f"Successfully tagged {tag}\n")
