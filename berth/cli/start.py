"""The `berth` executable's first code. Until the command runs, Ctrl-C takes its default
action (the process ends, as the docker CLI's does) instead of raising KeyboardInterrupt
in the middle of an import, which Python would show as a traceback. `main` installs
Python's handler again once it can handle it. Imported by nothing but the executable (and
`python -m berth`): a test importing the CLI keeps its own handler.
"""

import _signal
import gc

_signal.signal(_signal.SIGINT, _signal.SIG_DFL)
# A command allocates ~20k objects on its way to its work (imports, argument tables): at
# the default threshold (700) that is ~30 collections of the youngest generation, ~3 ms of
# a `run`. Every 100k allocations, long commands (serve, logs -f, build) still collect.
gc.set_threshold(100_000, 10, 10)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def entry() -> "NoReturn":
    import sys

    from berth.cli.handoff import hand_over

    start_zygote = hand_over(sys.argv)  # returns when the command runs in this process
    from berth.cli.main import entry as run

    run(start_zygote)
