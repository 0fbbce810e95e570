"""Containers: records, the OCI spec built from an image and run options, and state.

The exports load lazily: the copy helper (`python -I -m berth.container.copier`), started for
every `cp`, export and build COPY, imports this package first and must not pay for the
records' SQLite and JSON (~20 ms).
"""

TYPE_CHECKING = False  # typing costs the copy helper ~5 ms where its modules don't need it
if TYPE_CHECKING:
    from berth.container.records import ContainerRecord, ContainerStore

__all__ = ["ContainerRecord", "ContainerStore"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from berth.container import records

        return getattr(records, name)
    raise AttributeError(f"module 'berth.container' has no attribute {name!r}")
