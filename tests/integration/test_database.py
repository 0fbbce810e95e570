"""The metadata database: many berth commands open one new store at the same moment."""

import multiprocessing
from pathlib import Path

from berth.db import Database
from berth.db.schema import MIGRATIONS

OPENERS = 8
ROUNDS = 15


def _open(
    path: str, barrier: "multiprocessing.synchronize.Barrier", results: "multiprocessing.Queue[str]"
) -> None:
    barrier.wait()
    try:
        database = Database.open(Path(path))
        database.close()
        results.put("ok")
    except Exception as error:  # the test reports what any opener met
        results.put(f"{type(error).__name__}: {error}")


def test_concurrent_opens_of_a_new_store_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        path = tmp_path / f"store-{round_number}.db"
        barrier = context.Barrier(OPENERS)
        results: multiprocessing.Queue[str] = context.Queue()
        workers = [
            context.Process(target=_open, args=(str(path), barrier, results))
            for _ in range(OPENERS)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == ["ok"] * OPENERS, outcomes
        database = Database.open(path)
        assert database.query("PRAGMA journal_mode")[0][0] == "wal"
        assert database.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        database.close()
