"""`berth build`: the Dockerfile's pure front end (parsing, variable expansion and scoping,
`.dockerignore` matching) and the executor that runs it (RUN as a container, COPY through the
copy helper, each step's upper directory a layer, every step cached by content).

The typed arguments of each instruction live in `berth.build.instructions`. The exports load
lazily: the collector reads the build cache's rows (`berth.build.records`) after an `rmi`,
which must not pay for the parser's imports (~30 ms of dataclasses).
"""

TYPE_CHECKING = False  # typing costs the quick path of `build` ~2 ms (berth.build.replay)
if TYPE_CHECKING:
    from berth.build.dockerfile import parse, parse_triggers
    from berth.build.expand import process_word, process_words
    from berth.build.flags import Mount, parse_mount
    from berth.build.ignore import Matcher, ignore_file_for, read_patterns
    from berth.build.instructions import Dockerfile, DockerfileError, Instruction, Stage
    from berth.build.lines import run_script
    from berth.build.scope import PLATFORM_ARGS, PROXY_ARGS, Scope, platform_args

_LAZY = {
    "parse": "dockerfile",
    "parse_triggers": "dockerfile",
    "process_word": "expand",
    "process_words": "expand",
    "Mount": "flags",
    "parse_mount": "flags",
    "Matcher": "ignore",
    "ignore_file_for": "ignore",
    "read_patterns": "ignore",
    "Dockerfile": "instructions",
    "DockerfileError": "instructions",
    "Instruction": "instructions",
    "Stage": "instructions",
    "run_script": "lines",
    "PLATFORM_ARGS": "scope",
    "PROXY_ARGS": "scope",
    "Scope": "scope",
    "platform_args": "scope",
}

__all__ = [
    "PLATFORM_ARGS",
    "PROXY_ARGS",
    "Dockerfile",
    "DockerfileError",
    "Instruction",
    "Matcher",
    "Mount",
    "Scope",
    "Stage",
    "ignore_file_for",
    "parse",
    "parse_mount",
    "parse_triggers",
    "platform_args",
    "process_word",
    "process_words",
    "read_patterns",
    "run_script",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'berth.build' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"berth.build.{module}"), name)
