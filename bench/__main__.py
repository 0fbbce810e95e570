"""`python -m bench`: the pull benchmark, then the start-up benchmark, with their defaults.

Options are passed through: `--rounds`/`--fs`/`--tools` to the pull benchmark only; run
`python -m bench.pull` or `python -m bench.startup` alone for their own options.
Must not import `berth`.
"""

from __future__ import annotations

import sys

from bench import pull, startup


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status = pull.main(args)
    return status or startup.main([])


if __name__ == "__main__":
    raise SystemExit(main())
