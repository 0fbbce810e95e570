"""The per-container monitor: parent and subreaper of one container (DESIGN §1).

It owns the container's stdio, writes the json-file log, serves the attach socket, records
the exit status atomically, applies the restart policy and cleans up. One process per
running container, started detached; it never touches the database: it reports through
files in the container's run directory (`status.json`), which readers reconcile.
"""
