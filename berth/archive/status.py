"""Exit statuses the unpacker process reports and the engine side maps to error kinds.

Shared by both sides, so it imports nothing.
"""

DATA_LOSS = 65  # sysexits' EX_DATAERR: the layer stream is bad
NOT_FOUND = 66  # EX_NOINPUT: the target directory is missing
SYSTEM_FAILURE = 71  # EX_OSERR: the host refused an operation
NO_SPACE = 73  # EX_CANTCREAT: the disk (or the quota) is full
