"""`python -m bench`: the pull benchmark, the start-up benchmark, the container benchmark
(`run --rm true`, `ps` with 50 running, memory per container), then the networking benchmark
(network set-up per `run`, throughput through a published port), with their defaults.

Options are passed through: `--rounds`/`--fs`/`--tools` to the pull benchmark only; run
`python -m bench.pull`, `python -m bench.startup`, `python -m bench.run` or
`python -m bench.network` alone for their own options. Must not import `berth`.
"""

from __future__ import annotations

import sys

from bench import network, pull, startup
from bench import run as containers


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status = pull.main(args)
    return status or startup.main([]) or containers.main([]) or network.main([])


if __name__ == "__main__":
    raise SystemExit(main())
