"""Layer directories and the chains they stack into (containerd's snapshot vocabulary)."""

from berth.snapshot.layers import Layer, LayerStore

__all__ = ["Layer", "LayerStore"]
