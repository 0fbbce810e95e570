"""The content store on a real filesystem: verified writes, resumable ingests, locking."""

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from berth.content import ContentStore
from berth.errors import DataLoss
from berth.layout import Layout

DATA = os.urandom(300_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore(Layout(tmp_path / "root", tmp_path / "run"))


def test_write_verifies_and_is_read_only(content: ContentStore) -> None:
    with pytest.raises(DataLoss):
        content.write(DIGEST, DATA + b"x")
    assert not content.exists(DIGEST)
    content.write(DIGEST, DATA)
    assert content.read(DIGEST) == DATA
    assert content.path(DIGEST).stat().st_mode & 0o777 == 0o444
    assert [b.digest for b in content.walk()] == [DIGEST]


def test_ingest_resumes_from_partial_data(content: ContentStore) -> None:
    first = content.ingest(DIGEST, len(DATA))
    first.write(DATA[:100_000])
    first.close()  # as if the pull had died: partial data stays
    assert not content.exists(DIGEST)

    second = content.ingest(DIGEST, len(DATA))
    assert second.offset == 100_000
    second.write(DATA[100_000:])
    second.commit()
    second.close()
    assert content.read(DIGEST) == DATA
    assert not any(content.layout.ingests.iterdir())


def test_ingest_of_wrong_bytes_keeps_nothing(content: ContentStore) -> None:
    ingest = content.ingest(DIGEST, len(DATA))
    ingest.write(bytes(len(DATA)))
    with pytest.raises(DataLoss, match="verification failed"):
        ingest.commit()
    ingest.close()
    assert not content.exists(DIGEST)
    assert not any(content.layout.ingests.iterdir())


def test_ingest_refuses_more_than_declared(content: ContentStore) -> None:
    ingest = content.ingest(DIGEST, 10)
    with pytest.raises(DataLoss, match="larger than its declared size"):
        ingest.write(DATA[:11])
    ingest.close()


def test_second_writer_waits_and_sees_the_committed_blob(content: ContentStore) -> None:
    first = content.ingest(DIGEST, len(DATA))
    seen: list[bool] = []

    def second_writer() -> None:
        ingest = content.ingest(DIGEST, len(DATA))
        seen.append(ingest.complete)
        ingest.close()

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.2)
    assert not seen  # still waiting for the lock
    first.write(DATA)
    first.commit()
    first.close()
    thread.join(10)
    assert seen == [True]


def test_a_killed_writer_releases_its_ingest(content: ContentStore, tmp_path: Path) -> None:
    """kill -9 of a process holding an ingest: its lock dies with it, its bytes stay."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from berth.content import ContentStore\n"
        "from berth.layout import Layout\n"
        f"store = ContentStore(Layout(Path({str(content.layout.root)!r}), Path('/tmp')))\n"
        f"ingest = store.ingest({DIGEST!r}, {len(DATA)})\n"
        "ingest.write(bytes.fromhex(sys.argv[1]))\n"
        "ingest._stream.flush()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, DATA[:5000].hex()], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.kill()
        child.wait()
    ingest = content.ingest(DIGEST, len(DATA))
    assert ingest.offset == 5000
    ingest.close()
