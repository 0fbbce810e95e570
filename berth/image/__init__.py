"""Images: records, pulls, pushes and garbage collection over the content and layer stores.

Nothing is imported here: each module is imported by its users, so listing images does not
load the pull machinery, and `push`'s quick path (berth.image.push_repeat) loads neither the
records nor the database module.
"""
