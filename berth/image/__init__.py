"""Images: records, pulls and garbage collection over the content and layer stores.

Only the light modules are exported here; `berth.image.pull` and `berth.image.gc` are
imported by their users, so listing images does not load the pull machinery.
"""

from berth.image.progress import ProgressEvent, Reporter
from berth.image.records import ImageRecord, ImageStore

__all__ = ["ImageRecord", "ImageStore", "ProgressEvent", "Reporter"]
