"""RUN, COPY and ADD as build steps: their cache keys and their work (`berth.build.steps`).

RUN's key: the parent's, its argv (SHELL + the command for the shell form), the build args
the stage declared (`|N K=V`, as Docker's history shows them), its network and mounts. COPY's:
the parent's, the destination, owner and mode, and the content digest of its sources (from
the context) or the key or image of the stage it copies from.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.build import config as configs
from berth.build import steps
from berth.build.context import Entry, Selection
from berth.build.instructions import Add, Copy, Instruction, Run
from berth.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from berth.build.executor import Build
    from berth.build.state import State

NETWORKS = {"default": "bridge", "none": "none", "host": "host"}


def changing(build: Build, number: int, instruction: Instruction, state: State) -> State:
    args = instruction.args
    if isinstance(args, Run):
        return _run(build, number, instruction, args, state)
    if isinstance(args, Copy | Add):
        return _copy(build, number, instruction, args, state)
    raise InvalidArgument(f"line {instruction.line}: unknown instruction {instruction.keyword}")


def _run(build: Build, number: int, instruction: Instruction, args: Run, state: State) -> State:
    from berth.build.lines import run_script
    from berth.build.state import key_of

    scope = state.scope
    assert scope is not None
    command = args.command
    executable = None
    if command.shell:
        text, executable = run_script(command.words[0], instruction.heredocs)
        argv = [*configs.shell_of(state.config), text]
    else:
        argv = list(command.words)
    network = NETWORKS.get(args.network if args.network != "default" else build.options.network)
    if network is None:
        raise InvalidArgument(f"line {instruction.line}: network mode {args.network} not supported")
    mounts, keyed, borrowed = _mounts(build, instruction, args, scope)
    history_args = scope.history_args()
    shown = " ".join(argv)
    if history_args:
        shown = f"|{len(history_args)} {' '.join(history_args)} {shown}"
    script = executable.text if executable is not None else None
    key = key_of(state.key, "RUN", argv, history_args, network, keyed, script)

    def make() -> State:
        record, _ = build.base_image(state.base_id) if state.base_id else (None, None)
        if record is None:
            raise InvalidArgument(f"line {instruction.line}: RUN needs an image to run in")
        with tempfile.TemporaryDirectory(dir=_tmp(build)) as pipes:
            added = []
            if executable is not None:  # `RUN <<EOF` with `#!`: the body runs as a file
                path = Path(pipes) / executable.name
                path.write_text(executable.text)
                path.chmod(0o755)
                added = [{"Type": "bind", "Source": pipes, "Target": "/dev/pipes"}]
            with steps.borrowed(build.services, borrowed, build.copy_server) as lent:
                spec = steps.RunSpec(
                    argv,
                    scope.run_environment(),
                    str(state.config.get("User") or ""),
                    str(state.config.get("WorkingDir") or "/"),
                    network,
                    [*mounts, *lent, *added],
                )
                made = steps.run(
                    build.services,
                    record,
                    state.chain,
                    spec,
                    lambda text: build.progress.output(number, text),
                    build.options.epoch,
                    build.failed.is_set,
                )
        return build.note(following, made, f"RUN {shown} # buildkit")

    following = state.forked()
    following.scope = scope
    following.key = key
    return build.cached(number, following, make)


def _mounts(
    build: Build, instruction: Instruction, args: Run, scope: Any
) -> tuple[list[dict[str, Any]], list[str], list[steps.Borrowed]]:
    """RUN --mount as the container's mounts, and what of them the cache key holds: a cache
    is a directory of the store kept across builds (by id, or target); a tmpfs a tmpfs; a
    bind a read-only view of the context (its content in the key), or with `from=` a path of
    another stage or image (its key or id in the key), borrowed for the step (`steps.borrowed`:
    a copy, so `rw` writes go nowhere, as BuildKit's); a secret the file given with
    `--secret id=…` (in no key, as BuildKit's)."""
    from berth.build.context import digest
    from berth.build.flags import parse_mount

    found: list[dict[str, Any]] = []
    keyed: list[str] = []
    borrowed: list[steps.Borrowed] = []
    for spec in args.mounts:
        mount = parse_mount(spec, scope.expand_word if "$" in spec else str)
        kind = mount.type
        where = f"line {instruction.line}: RUN --mount=type={kind}"
        target = posixpath.normpath(posixpath.join("/", mount.target)) if mount.target else ""
        if not target and kind in ("cache", "tmpfs", "bind"):
            raise InvalidArgument(f"{where} needs a target (target=/path)")
        if kind == "cache":
            name = hashlib.sha256((mount.id or target).encode()).hexdigest()
            directory = build.services.layout.root / "build-cache" / name
            directory.mkdir(parents=True, exist_ok=True)
            found.append({"Type": "bind", "Source": str(directory), "Target": target})
            keyed.append(f"cache {target}")
        elif kind == "tmpfs":
            found.append({"Type": "tmpfs", "Target": target})
            keyed.append(f"tmpfs {target}")
        elif kind == "bind" and not mount.from_:
            if not mount.readonly:
                raise InvalidArgument(f"{where},rw is not supported yet")
            if build.context is None:
                raise InvalidArgument(f"{where} needs a build context")
            source = mount.source or "."
            host = build.context.host_path(source)
            selection = build.context.select([source])
            found.append({"Type": "bind", "Source": host, "Target": target, "ReadOnly": True})
            keyed.append(f"bind {source} {target} {digest(selection, None, build.hashes)}")
        elif kind == "bind":
            chain, origin = _origin(build, instruction, mount.from_)
            source = posixpath.normpath(posixpath.join("/", mount.source or "/"))
            borrowed.append(steps.Borrowed(chain, source, target, mount.readonly))
            keyed.append(f"bind from {origin} {source} {target} {mount.readonly}")
        elif kind == "secret":
            name = mount.id or posixpath.basename(mount.target)
            secret = build.options.secrets.get(name)
            if secret is None:
                if mount.required:
                    raise InvalidArgument(f"{where}: secret {name} not provided (--secret)")
                continue
            path = target or f"/run/secrets/{name}"
            found.append({"Type": "bind", "Source": secret, "Target": path, "ReadOnly": True})
            keyed.append(f"secret {name} {path}")
        else:
            raise InvalidArgument(f"{where} is not supported yet")
    return found, keyed, borrowed


def _origin(build: Build, instruction: Instruction, source: str) -> tuple[str, str]:
    """The chain of an earlier stage or an image (`--from`, `from=`), and what keys it: the
    stage's key or the image's id."""
    stage = build.dockerfile.stage(source)
    if stage is not None:
        origin = build.stage_result(stage)
        chain, key = origin.chain, origin.key
    else:
        record, base = build.base_image(source)
        chain, key = base.chain, record.id
    if chain is None:
        raise NotFound(f"line {instruction.line}: {source} has no files")
    return chain, key


def _copy(
    build: Build, number: int, instruction: Instruction, args: Copy | Add, state: State
) -> State:
    from berth.build.context import digest

    scope = state.scope
    assert scope is not None
    keyword = instruction.keyword
    dest = scope.expand_word(args.dest)
    workdir = str(state.config.get("WorkingDir") or "/")
    absolute = posixpath.join(workdir, dest)
    if dest.endswith("/") or dest in (".", ".."):
        absolute = absolute.rstrip("/") + "/"
    chown = scope.expand_word(args.chown) or None
    chmod_text = scope.expand_word(args.chmod)
    try:
        chmod = int(chmod_text, 8) if chmod_text else None
    except ValueError:
        raise InvalidArgument(f"line {instruction.line}: invalid chmod {chmod_text}") from None
    sources = [scope.expand_word(source) for source in args.sources]
    source = getattr(args, "from_", "")
    with tempfile.TemporaryDirectory(dir=_tmp(build)) as scratch:
        if source:
            return _copy_from(build, number, instruction, state, source, sources, absolute, chown)
        archives: list[Entry] = []
        if isinstance(args, Add):
            sources, archives = _archives(build, sources)
        selection = _select(build, instruction, args, sources, Path(scratch), scope)
        several = len(args.sources) + len(args.inline) > 1
        file_name = None
        if selection.single_file and not several and not absolute.endswith("/"):
            file_name = posixpath.basename(absolute.rstrip("/"))
        from berth.build.state import key_of

        shown = " ".join([*args.sources, *(i.name for i in args.inline)])
        following = state.forked()
        following.scope = scope
        unpacked = digest(Selection(archives, False), None, build.hashes)
        following.key = key_of(
            state.key,
            keyword,
            digest(selection, chmod, build.hashes),
            unpacked,
            absolute,
            file_name,
            chown,
            chmod,
        )

        def make() -> State:
            from berth.build.context import write_list
            from berth.container.cp_build import copy_files, copy_in

            def place(root: Any) -> None:
                if selection.entries:
                    copy_files(
                        root,
                        absolute,
                        lambda out: write_list(selection, out, mode=chmod),
                        file_name=file_name,
                        chown=chown,
                        server=build.copy_server,
                    )
                for archive in archives:  # ADD of a local tar: its contents, owners kept
                    directory = absolute.rstrip("/") + "/"
                    write = steps.file_writer(archive.path)
                    copy_in(
                        root,
                        directory,
                        write,
                        chown=chown,
                        keep_owners=chown is None,
                        server=build.copy_server,
                    )

            made = steps.copy(build.services, state.chain, place, build.options.epoch)
            return build.note(following, made, f"{keyword} {shown} {dest} # buildkit")

        return build.cached(number, following, make)


def _archives(build: Build, sources: list[str]) -> tuple[list[str], list[Entry]]:
    """ADD's sources split: those that are local tar archives (plain, gzip, bzip2, xz: by
    their first bytes, as Docker decides) are unpacked, the others copied."""
    plain: list[str] = []
    archives: list[Entry] = []
    for source in sources:
        if build.context is not None and "://" not in source:
            chosen = build.context.select([source])
            if chosen.single_file and steps.is_archive(chosen.entries[0].path):
                archives.append(chosen.entries[0])
                continue
        plain.append(source)
    return plain, archives


def _select(
    build: Build,
    instruction: Instruction,
    args: Copy | Add,
    sources: list[str],
    scratch: Path,
    scope: Any,
) -> Selection:
    def is_url(text: str) -> bool:  # berth.build.fetch's, without importing it (email, ~7 ms)
        return text.startswith(("http://", "https://"))

    remote = [text for text in sources if is_url(text)]
    if remote and not isinstance(args, Add):
        raise InvalidArgument(f"line {instruction.line}: COPY can't copy a URL: use ADD")
    if any("://" in text and not is_url(text) for text in sources):
        raise InvalidArgument(f"line {instruction.line}: only http(s) URLs can be added")
    checksum = scope.expand_word(args.checksum) if isinstance(args, Add) else ""
    if checksum and (len(remote) != 1 or len(sources) != 1):
        raise InvalidArgument(f"line {instruction.line}: --checksum needs one http(s) source")
    sources = [text for text in sources if not is_url(text)]
    build.fetched = build.fetched or bool(remote)
    inline = [(i.name, scope.expand_heredoc(i.data) if i.expand else i.data) for i in args.inline]
    entries: list[Entry] = []
    single = False
    for url in remote:
        from berth.build.fetch import download

        path = download(url, scratch, checksum)
        entries.append(Entry(str(path), path.name, os.lstat(path)))
        single = len(remote) == 1 and not sources and not inline
    if sources:
        if build.context is None:
            raise InvalidArgument(f"line {instruction.line}: {instruction.keyword} needs a context")
        chosen = build.context.select(sources)
        entries.extend(chosen.entries)
        single = chosen.single_file
    for path in steps.inline_files(scratch, inline):
        entries.append(Entry(str(path), path.name, os.lstat(path)))
        single = not sources and len(inline) == 1
    return Selection(entries, single)


def _copy_from(
    build: Build,
    number: int,
    instruction: Instruction,
    state: State,
    source: str,
    sources: list[str],
    absolute: str,
    chown: str | None,
) -> State:
    """COPY --from: each source read from another stage's or image's chain (the copy
    helper's archive of it), placed in this step's snapshot."""
    from berth.build.state import key_of

    chain, origin_key = _origin(build, instruction, source)
    several = len(sources) > 1 or absolute.endswith("/")
    following = state.forked()
    following.scope = state.scope
    following.key = key_of(state.key, "COPY --from", origin_key, sources, absolute, chown)

    def make() -> State:
        from berth.container.cp_build import copy_between

        def place(root: Any) -> None:
            view, target = steps.view_root(build.services.layers, build.services.layout, chain)
            try:
                copy_between(
                    root,
                    view,
                    absolute,
                    sources,
                    several=several,
                    chown=chown,
                    server=build.copy_server,
                )
            finally:
                target.rmdir()

        made = steps.copy(build.services, state.chain, place, build.options.epoch)
        created_by = f"COPY --from={source} {' '.join(sources)} {absolute} # buildkit"
        return build.note(following, made, created_by)

    return build.cached(number, following, make)


def _tmp(build: Build) -> str:
    directory = build.services.layout.tmp
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory)
