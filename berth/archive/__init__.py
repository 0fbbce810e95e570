"""Layers to directories: unpack a (compressed) layer tar faithfully and safely.

`start_unpack` / `apply_layer` run the unpacker process (berth.archive.unpacker), which
extracts inside a private mount namespace chrooted to the target and converts whiteouts to
overlayfs form, and return the layer's diff_id and size. Must not import content, registry,
image, snapshot, cli or anything else above archive; only sys, errors and the stdlib.

The exports load lazily: `python -m berth.archive.unpacker` imports this package first,
and the unpacker, started once per layer, must not pay for the engine side's subprocess,
logging and dataclasses imports (~25 ms).
"""

TYPE_CHECKING = False  # typing costs the unpacker ~7 ms where isal doesn't load it
if TYPE_CHECKING:
    from berth.archive.layer import Applied, LayerWriter, apply_layer, start_unpack

__all__ = ["Applied", "LayerWriter", "apply_layer", "start_unpack"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from berth.archive import layer

        return getattr(layer, name)
    raise AttributeError(f"module 'berth.archive' has no attribute {name!r}")
