"""The `berth` executable's first code. Until the command runs, Ctrl-C takes its default
action (the process ends, as the docker CLI's does) instead of raising KeyboardInterrupt
in the middle of an import, which Python would show as a traceback. `main` installs
Python's handler again once it can handle it. Imported by nothing but the executable (and
`python -m berth`): a test importing the CLI keeps its own handler.
"""

import _signal

_signal.signal(_signal.SIGINT, _signal.SIG_DFL)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def entry() -> "NoReturn":
    from berth.cli.main import entry as run

    run()
