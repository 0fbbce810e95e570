"""Named volumes (driver "local"): records, data directories, and filling an empty volume
from an image's directory (Docker's copy-up). Knows nothing of containers: who mounts a
volume is asked through `VolumeUsers`."""

from berth.volume.records import ANONYMOUS_LABEL, VolumeRecord, VolumeStore
from berth.volume.volumes import Volumes, VolumeUsers

__all__ = ["ANONYMOUS_LABEL", "VolumeRecord", "VolumeStore", "VolumeUsers", "Volumes"]
