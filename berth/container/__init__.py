"""Containers: records, the OCI spec built from an image and run options, and state."""

from berth.container.records import ContainerRecord, ContainerStore

__all__ = ["ContainerRecord", "ContainerStore"]
