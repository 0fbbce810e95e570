"""Layer directories, the chains they stack into, and active snapshots over them
(containerd's snapshot vocabulary: prepare/view/mounts/commit/remove)."""

from berth.snapshot.layers import Layer, LayerStore
from berth.snapshot.snapshotter import Mount, Snapshotter

__all__ = ["Layer", "LayerStore", "Mount", "Snapshotter"]
