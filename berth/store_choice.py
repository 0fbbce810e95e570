"""Which store a command uses: the `--root`/`--runroot` flags, else BERTH_ROOT/BERTH_RUNROOT,
else the defaults; made absolute. Stdlib `os` only, without pathlib (~3 ms of imports), so
`ps`'s quick path can choose as `Layout.from_env` does without importing the layout."""

import os

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_RUNROOT = "/run/berth"


def chosen(root: str | None, runroot: str | None) -> tuple[str, str]:
    """The store's root and runroot, absolute."""
    return (
        os.path.abspath(root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT),
        os.path.abspath(runroot or os.environ.get("BERTH_RUNROOT") or DEFAULT_RUNROOT),
    )
