"""Images: records, pulls and garbage collection over the content and layer stores."""

from berth.image.gc import Collected, collect
from berth.image.progress import ProgressEvent, Reporter
from berth.image.records import ImageRecord, ImageStore

__all__ = ["Collected", "ImageRecord", "ImageStore", "ProgressEvent", "Reporter", "collect"]
