"""`python -m bench.unpack`: berth's layer unpacker against GNU tar fed by igzip, on tmpfs.

Two layers: many small files (20k in 200 directories) and a large one (100 MB in ten files,
half incompressible). Each tool unpacks each gzip layer into a fresh directory on a tmpfs
mounted for the run: berth as `python -m berth.archive.unpacker DIR gzip` (the exact process
the engine starts, chroot and diff_id hashing included), GNU tar as `tar -I igzip -x`
(as root it restores owners and modes too, but computes no digest). Medians of --runs.
`--layer PATH` adds real gzip layers (e.g. the Debian ones bench.images caches).
Must not import `berth`: berth is measured only as a subprocess, like its peers.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.proc import run

REPO = Path(__file__).resolve().parents[1]
TAR = "/usr/bin/tar"
MOUNT, UMOUNT = "/usr/bin/mount", "/usr/bin/umount"


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
    archive.addfile(info, io.BytesIO(data))


def _add_dir(archive: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
    archive.addfile(info)


def small_files_tar(count: int = 20_000) -> bytes:
    rng = random.Random(1)
    words = [rng.randbytes(6).hex() for _ in range(500)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for d in range(200):
            _add_dir(archive, f"usr/share/d{d:03d}")
            for i in range(count // 200):
                text = " ".join(rng.choices(words, k=rng.randint(10, 300))).encode()
                _add(archive, f"usr/share/d{d:03d}/f{i:03d}.txt", text)
    return buffer.getvalue()


def large_tar(total: int = 100 * 1024 * 1024) -> bytes:
    rng = random.Random(2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add_dir(archive, "opt/big")
        piece = total // 10
        for i in range(10):
            text = b"".join(rng.choice([b"alpha ", b"beta ", b"gamma\n"]) for _ in range(4096))
            data = rng.randbytes(piece // 2) + (text * (piece // 2 // len(text) + 1))[: piece // 2]
            _add(archive, f"opt/big/blob{i}", data)
    return buffer.getvalue()


def gzip_file(tar: bytes, path: Path) -> Path:
    import gzip

    path.write_bytes(gzip.compress(tar, compresslevel=6, mtime=0))
    return path


def time_runs(runs: int, target_root: Path, job: Callable[[Path], None]) -> float:
    times = []
    for n in range(runs):
        target = target_root / f"run{n}"
        target.mkdir()
        started = time.perf_counter()
        job(target)
        times.append(time.perf_counter() - started)
        shutil.rmtree(target)
    return statistics.median(times)


def berth_unpack(layer: Path) -> Callable[[Path], None]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def job(target: Path) -> None:
        with layer.open("rb") as stdin:
            subprocess.run(
                [sys.executable, "-m", "berth.archive.unpacker", str(target), "gzip"],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                env=env,
                check=True,
                timeout=600,
            )

    return job


def tar_unpack(layer: Path) -> Callable[[Path], None]:
    def job(target: Path) -> None:
        run([TAR, "--numeric-owner", "-I", "igzip", "-xf", layer, "-C", target])

    return job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.unpack")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layer", type=Path, action="append", default=[], help="a .tar.gz")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="berth-bench-unpack-") as scratch:
        fs = Path(scratch)
        run([MOUNT, "-t", "tmpfs", "-o", "size=2g", "berth-bench", fs])
        try:
            layers = {
                "20k small files": gzip_file(small_files_tar(), fs / "small.tgz"),
                "100 MB, 10 files": gzip_file(large_tar(), fs / "large.tgz"),
            }
            for n, extra in enumerate(args.layer):
                layers[f"{extra.parent.name[:12]}"] = Path(shutil.copy(extra, fs / f"x{n}.tgz"))
            print(f"unpack on tmpfs, medians of {args.runs} runs")
            print(f"{'layer':18} {'gzip MB':>8} {'berth':>8} {'tar+igzip':>10} {'ratio':>6}")
            for name, layer in layers.items():
                ours = time_runs(args.runs, fs, berth_unpack(layer))
                theirs = time_runs(args.runs, fs, tar_unpack(layer))
                size = layer.stat().st_size / 1e6
                print(f"{name:18} {size:8.1f} {ours:7.3f}s {theirs:9.3f}s {ours / theirs:6.2f}")
        finally:
            run([UMOUNT, fs])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
