"""Progress events, in Docker's words, from the image service (pulls and pushes) to whoever
renders them.

One event model, several renderers: live bars on a terminal, plain lines without one, and
Docker's JSON progress stream in the API. Layer events carry a 12-character short digest as
`id` (a pull's of the layer blob, a push's of the layer's diff_id, as Docker's); events with
an empty `id` are messages about the whole image.
"""

from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing (and the re it imports) costs `push`'s quick path ~5 ms

PULLING_FS_LAYER = "Pulling fs layer"
WAITING = "Waiting"
DOWNLOADING = "Downloading"
VERIFYING = "Verifying Checksum"
DOWNLOAD_COMPLETE = "Download complete"
EXTRACTING = "Extracting"
PULL_COMPLETE = "Pull complete"
ALREADY_EXISTS = "Already exists"
RETRYING = "Retrying"
PREPARING = "Preparing"
PUSHING = "Pushing"
PUSHED = "Pushed"
LAYER_EXISTS = "Layer already exists"
MOUNTED_FROM = "Mounted from"  # followed by the source repository

# Statuses whose events carry a byte count that changes (rendered as bars on a terminal).
PROGRESS_STATUSES = frozenset({DOWNLOADING, EXTRACTING, PUSHING})


if TYPE_CHECKING:
    from typing import NamedTuple

    class ProgressEvent(NamedTuple):
        id: str
        status: str
        current: int = 0
        total: int | None = None

else:
    from collections import namedtuple

    ProgressEvent = namedtuple("ProgressEvent", "id status current total", defaults=(0, None))


Reporter = Callable[[ProgressEvent], None]


def ignore(_event: ProgressEvent) -> None:
    """A reporter for callers that don't show progress."""


def push_begun(report: Reporter, repository: str, idents: Sequence[str], concurrency: int) -> None:
    """What a push says before any layer's outcome: the repository, then each layer (top
    first, as Docker lists them) Preparing, and those beyond the first `concurrency` Waiting."""
    report(ProgressEvent("", f"The push refers to repository [{repository}]"))
    for ident in idents:
        report(ProgressEvent(ident, PREPARING))
    for ident in idents[concurrency:]:
        report(ProgressEvent(ident, WAITING))
