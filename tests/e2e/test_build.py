"""`berth build`: real Dockerfiles built on the test's store, from a context directory, with
the busybox base image; results checked by running them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from berth.cli.commands.build import quick
from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth


def _context(root: Path, dockerfile: str, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _build(berth: Berth, context: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return berth("build", *args, str(context), timeout=600)


def _ok(berth: Berth, context: Path, *args: str) -> str:
    """The steps' output (stderr) of a build that must succeed."""
    result = _build(berth, context, *args)
    assert result.returncode == 0, result.stderr
    return result.stderr


def _image_id(berth: Berth, name: str) -> str:
    return berth("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def _cached(output: str) -> int:
    return output.count(" CACHED\n")


APP = """\
FROM busybox
ARG GREETING=hi
ENV APP=/app
WORKDIR $APP
COPY hello.txt .
COPY conf/ ./conf/
RUN echo "$GREETING from run" > run.txt && cat hello.txt >> run.txt
LABEL org.example.kind=test
CMD ["cat", "/app/run.txt"]
"""


def test_build_run_and_rebuild_from_the_cache(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = _context(tmp_path / "app", APP, **{"hello.txt": "hello\n", "conf__a.ini": "a=1\n"})
    output = _ok(berth, context, "-t", "app:1")
    assert "#7 " in output and "naming to app:1 done" in output
    run = berth("run", "--rm", "app:1")
    assert run.stdout == "hi from run\nhello\n", run.stderr
    seen = berth("run", "--rm", "app:1", "sh", "-c", "pwd; echo $APP; cat conf/a.ini")
    assert seen.stdout == "/app\n/app\na=1\n"
    first = _image_id(berth, "app:1")

    # Nothing changed: every step from the cache, the same image.
    again = _ok(berth, context, "-t", "app:1")
    assert _cached(again) == 7 and _image_id(berth, "app:1") == first
    # A copied file changed (its time alone would not count): the steps from it on run again.
    os.utime(context / "conf" / "a.ini", (1, 1))
    assert _cached(_ok(berth, context, "-t", "app:1")) == 7
    (context / "hello.txt").write_text("changed\n")
    rebuilt = _ok(berth, context, "-t", "app:1")
    assert _cached(rebuilt) == 2  # ENV and WORKDIR: from the COPY that changed on, run
    assert berth("run", "--rm", "app:1").stdout == "hi from run\nchanged\n"
    # A build arg the RUN sees changes its key.
    assert _cached(_ok(berth, context, "-t", "app:2", "--build-arg", "GREETING=yo")) == 4
    assert berth("run", "--rm", "app:2").stdout == "yo from run\nchanged\n"

    history = berth("history", "--no-trunc", "--format", "{{.CreatedBy}}", "app:1").stdout
    assert history.splitlines()[:3] == [
        'CMD ["cat" "/app/run.txt"]',
        "LABEL org.example.kind=test",
        'RUN |1 GREETING=hi /bin/sh -c echo "$GREETING from run" > run.txt && cat hello.txt'
        " >> run.txt"
        " # buildkit",
    ]
    labels = berth("image", "inspect", "-f", "{{json .Config.Labels}}", "app:1").stdout
    assert json.loads(labels) == {"org.example.kind": "test"}
    assert berth("ps", "-aq").stdout == ""  # no step's container is left
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_steps_making_the_same_layer_twice(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """The same COPY twice and two empty RUNs make one layer at several places in a chain: a
    later step's container still mounts (overlay refuses a lower directory named twice)."""
    dockerfile = "FROM busybox\nCOPY f /x\nCOPY f /x\nRUN true\nRUN true\nRUN cat /x\n"
    context = _context(tmp_path / "twice", dockerfile, f="twice\n")
    _ok(berth, context, "-t", "twice:1")
    layers = berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", "twice:1").stdout
    diff_ids = json.loads(layers)
    assert diff_ids[1] == diff_ids[2]
    ran = berth("run", "--rm", "--network", "none", "twice:1", "cat", "/x")
    assert ran.stdout == "twice\n", ran.stderr


TWO_COPIES = """\
FROM busybox AS left
COPY left/ /out/
FROM busybox AS right
COPY right/ /out/
FROM busybox
COPY --from=left /out/ /srv/
COPY --from=right /out/ /srv/
CMD ["sh", "-c", "cat /srv/*"]
"""


def test_stages_copying_at_once(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """Two stages' COPY steps run side by side in the build's one copy server (each request
    its own helper), then the final stage's COPY --from of both."""
    files = {f"left__l{i:02}.txt": f"left {i}\n" for i in range(40)}
    files.update({f"right__r{i:02}.txt": f"right {i}\n" for i in range(40)})
    context = _context(tmp_path / "two", TWO_COPIES, **files)
    _ok(berth, context, "-t", "two:1")
    ran = berth("run", "--rm", "--network", "none", "two:1")
    assert ran.stdout == "".join(files[name] for name in sorted(files)), ran.stderr


MULTI = """\
FROM busybox AS tools
RUN mkdir -p /out && echo tool > /out/tool && sleep 1

FROM busybox AS assets
RUN mkdir -p /out && echo asset > /out/asset && sleep 1

FROM busybox AS unused
RUN exit 3

FROM busybox
COPY --from=tools /out/tool /usr/local/bin/
COPY --from=assets /out/ /srv/
CMD ["sh", "-c", "cat /usr/local/bin/tool /srv/asset"]
"""


def test_multi_stage_builds_what_the_target_needs_at_once(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    context = _context(tmp_path / "multi", MULTI)
    started = time.monotonic()
    output = _ok(berth, context, "-t", "multi:1")
    elapsed = time.monotonic() - started
    assert berth("run", "--rm", "multi:1").stdout == "tool\nasset\n"
    assert "exit 3" not in output  # the unused stage never ran
    # The two independent stages ran at once: their RUN lines interleave before either ends.
    lines = output.splitlines()
    tool = next(i for i, line in enumerate(lines) if "RUN mkdir -p /out && echo tool" in line)
    asset = next(i for i, line in enumerate(lines) if "RUN mkdir -p /out && echo asset" in line)
    first_done = min(
        i for i, line in enumerate(lines) if line.endswith("s") and " DONE " in line and i > tool
    )
    assert max(tool, asset) < first_done or elapsed < 2.5, output

    # --target builds a stage alone.
    _ok(berth, context, "-t", "assets:1", "--target", "assets")
    assert berth("run", "--rm", "assets:1", "cat", "/out/asset").stdout == "asset\n"
    missing = _build(berth, context, "--target", "nope")
    assert missing.returncode == 1 and "failed to reach build target nope" in missing.stderr


FEATURES = """\
FROM busybox
RUN echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd && echo app:x:1234: >> /etc/group
COPY --chown=app:app owned.txt /home/app/
ADD bundle.tar.gz /opt/bundle/
COPY <<EOF /etc/motd
Welcome $NAME
EOF
RUN <<EOT
set -e
echo from heredoc > /heredoc.txt
EOT
RUN <<EOT
#!/bin/sh
echo from a script >> /heredoc.txt
EOT
USER app
WORKDIR /home/app
HEALTHCHECK --interval=5s CMD true
ENTRYPOINT ["sh", "-c", "echo $0 $(id -un) $(pwd); cat /heredoc.txt /opt/bundle/inner.txt"]
CMD ["started"]
"""


def test_chown_add_heredocs_user_workdir_healthcheck(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    context = _context(tmp_path / "features", FEATURES, **{"owned.txt": "mine\n"})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"packed\n"
        info = tarfile.TarInfo("inner.txt")
        info.size, info.uid = len(data), 42
        archive.addfile(info, io.BytesIO(data))
    (context / "bundle.tar.gz").write_bytes(buffer.getvalue())
    _ok(berth, context, "-t", "features:1")
    run = berth("run", "--rm", "features:1")
    assert run.stdout == "started app /home/app\nfrom heredoc\nfrom a script\npacked\n", run.stderr
    owners = berth("run", "--rm", "--entrypoint", "stat", "features:1",
                   "-c", "%u %n", "/home/app/owned.txt", "/opt/bundle/inner.txt")  # fmt: skip
    assert owners.stdout.splitlines() == ["1234 /home/app/owned.txt", "42 /opt/bundle/inner.txt"]
    motd = berth("run", "--rm", "--entrypoint", "cat", "features:1", "/etc/motd")
    assert motd.stdout == "Welcome \n"  # NAME is unset: expanded to nothing
    health = berth("image", "inspect", "-f", "{{json .Config.Healthcheck}}", "features:1")
    assert json.loads(health.stdout) == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}


def test_dockerignore_and_the_context_boundary(berth: Berth, busybox: str, tmp_path: Path) -> None:
    files = {"keep.txt": "k\n", "secret.key": "s\n", "logs__a.log": "a\n", "logs__keep.log": "b\n"}
    context = _context(tmp_path / "ignore", "FROM busybox\nCOPY . /ctx/\n", **files)
    (context / ".dockerignore").write_text("*.key\nlogs\n!logs/keep.log\n")
    _ok(berth, context, "-t", "ignore:1")
    listing = berth("run", "--rm", "ignore:1", "find", "/ctx", "-type", "f")
    assert sorted(listing.stdout.split()) == [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/keep.txt",
        "/ctx/logs/keep.log",
    ]
    (context / "Dockerfile").write_text("FROM busybox\nCOPY secret.key /\n")
    excluded = _build(berth, context)
    assert excluded.returncode == 1 and "excluded by .dockerignore" in excluded.stderr
    (tmp_path / "outside.txt").write_text("host\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY ../outside.txt /\n")
    outside = _build(berth, context)
    assert outside.returncode == 1 and "outside the build context" in outside.stderr
    os.symlink(tmp_path / "outside.txt", context / "link.txt")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY link.txt /\n")
    linked = _build(berth, context)  # the link resolves inside the context: nothing there
    assert linked.returncode == 1, linked.stderr


def test_bad_dockerfiles_fail_with_the_line_and_leave_nothing(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    cases = {
        "FROM busybox\nFORM busybox\n": "Dockerfile:2: unknown instruction: FORM",
        "FROM busybox\nRUN <<EOF\necho never ends\n": "Dockerfile:2:",
        "FROM busybox\nCOPY --from=nowhere /x /y\n": "nowhere",
        "FROM busybox\nCOPY missing.txt /\n": "missing.txt",
        "FROM busybox\nRUN echo partial > /p && exit 7\n": "exit code: 7",
        "FROM busybox\nRUN --mount=type=cache true\n": "needs a target",
    }
    for index, (text, message) in enumerate(cases.items()):
        context = _context(tmp_path / f"bad{index}", text)
        result = _build(berth, context, "-t", "bad:1")
        assert result.returncode == 1, (text, result.stderr)
        assert message in result.stderr, (text, result.stderr)
        assert "Traceback" not in result.stderr
    binary = _context(tmp_path / "binary", "")
    (binary / "Dockerfile").write_bytes(b"FROM busybox\nRUN echo \xff\xfe\n")
    (binary / ".dockerignore").write_bytes(b"\xff\n")
    for broken in ("Dockerfile", ".dockerignore"):
        result = _build(berth, binary)
        assert result.returncode == 1 and "not UTF-8 text" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        (binary / broken).write_text("FROM busybox\n")
    assert berth("ps", "-aq").stdout == ""
    assert berth("images", "-q", "bad").stdout == ""
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_source_date_epoch_makes_the_same_image_twice(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    text = "FROM busybox\nCOPY a.txt /\nRUN mkdir /made && echo x > /made/x && touch /t\n"
    context = _context(tmp_path / "repro", text, **{"a.txt": "a\n"})
    args = ("--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000")
    _ok(berth, context, "-t", "repro:1", *args)
    _ok(berth, context, "-t", "repro:2", *args)
    first, second = _image_id(berth, "repro:1"), _image_id(berth, "repro:2")
    layers = berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", "repro:1").stdout
    assert json.loads(layers) == json.loads(
        berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", "repro:2").stdout
    )
    assert first == second  # every file time clamped, every created date the epoch
    created = berth("image", "inspect", "-f", "{{.Created}}", "repro:1").stdout.strip()
    assert created.startswith("2023-11-14T22:13:20")


def test_a_cache_mount_keeps_its_files_between_builds(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    text = (
        "FROM busybox\nARG N\n"
        "RUN --mount=type=cache,target=/cache echo $N >> /cache/runs && cat /cache/runs > /seen\n"
    )
    context = _context(tmp_path / "cache", text)
    _ok(berth, context, "-t", "cache:1", "--build-arg", "N=1")
    _ok(berth, context, "-t", "cache:2", "--build-arg", "N=2")
    seen = berth("run", "--rm", "cache:2", "cat", "/seen")
    assert seen.stdout == "1\n2\n"
    assert berth("run", "--rm", "cache:2", "ls", "/cache").stdout == ""  # not in the image
    pruned = berth("builder", "prune", "-f")
    assert pruned.returncode == 0 and "Deleted build cache objects:\n" in pruned.stdout
    assert _cached(_ok(berth, context, "-t", "cache:2", "--build-arg", "N=2")) == 0


def test_bind_and_secret_mounts(berth: Berth, busybox: str, tmp_path: Path) -> None:
    text = (
        "FROM busybox\n"
        "RUN --mount=type=bind,source=req.txt,target=/tmp/req.txt cp /tmp/req.txt /req-copy\n"
        "RUN --mount=type=secret,id=token,required cat /run/secrets/token | wc -c > /token-size\n"
    )
    context = _context(tmp_path / "mounts", text, **{"req.txt": "one\n"})
    secret = tmp_path / "token.txt"
    secret.write_text("s3cret")
    _ok(berth, context, "-t", "mounts:1", "--secret", f"id=token,src={secret}")
    script = "cat /req-copy /token-size; test -e /tmp/req.txt || test -e /run || echo clean"
    seen = berth("run", "--rm", "mounts:1", "sh", "-c", script)
    assert seen.stdout.split() == ["one", "6", "clean"], seen.stdout  # no mount point stays
    history = berth("history", "--no-trunc", "mounts:1").stdout
    assert "s3cret" not in history
    # The bound file is part of the step's key: changed, the step runs again.
    (context / "req.txt").write_text("two\n")
    rebuilt = _ok(berth, context, "-t", "mounts:1", "--secret", f"id=token,src={secret}")
    assert _cached(rebuilt) == 0
    assert berth("run", "--rm", "mounts:1", "cat", "/req-copy").stdout == "two\n"
    missing = _build(berth, context)
    assert missing.returncode == 1 and "secret token not provided" in missing.stderr


def test_add_from_a_url(berth: Berth, busybox: str, host_ns: HostNamespace, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.sh").write_text("echo downloaded\n")
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [*host_ns.prefix, sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
         str(port), "--directory", str(served)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        url = f"http://127.0.0.1:{port}/tool.sh"
        while host_ns.run("wget", "-qO-", url).returncode != 0:
            assert time.monotonic() < deadline, "the test's HTTP server did not start"
            time.sleep(0.1)
        digest = "sha256:" + hashlib.sha256(b"echo downloaded\n").hexdigest()
        text = f"FROM busybox\nADD --checksum={digest} {url} /opt/\nADD {url} /renamed.sh\n"
        context = _context(tmp_path / "url", text)
        time.sleep(0.3)  # settled: only the URL keeps the build from being noted for a replay
        _ok(berth, context, "-t", "url:1")
        store = berth.store
        assert quick(str(store.root), str(store.runroot), ["-t", "url:1", str(context)]) is None
        seen = berth("run", "--rm", "url:1", "sh", "-c",
                     "sh /opt/tool.sh; stat -c %a /opt/tool.sh; sh /renamed.sh")  # fmt: skip
        assert seen.stdout == "downloaded\n600\ndownloaded\n", seen.stderr
        # The content keys the cache: the same file again is CACHED, a changed one is not.
        assert _cached(_ok(berth, context, "-t", "url:1")) == 2
        (served / "tool.sh").write_text("echo changed\n")
        mismatch = _build(berth, context)
        assert mismatch.returncode == 1 and "digest mismatch" in mismatch.stderr
        (context / "Dockerfile").write_text(f"FROM busybox\nADD {url} /renamed.sh\n")
        assert _cached(_ok(berth, context, "-t", "url:2")) == 0
        copy = _build(berth, _context(tmp_path / "copy", f"FROM busybox\nCOPY {url} /x\n"))
        assert copy.returncode == 1 and "use ADD" in copy.stderr

        # A context tar from a URL, and from stdin; a Dockerfile alone on stdin.
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w:gz") as archive:
            for name, data in (
                ("Dockerfile", b"FROM busybox\nCOPY in.txt /\n"),
                ("in.txt", b"t\n"),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        (served / "ctx.tar.gz").write_bytes(packed.getvalue())
        fetched = berth("build", "-t", "fetched:1", f"http://127.0.0.1:{port}/ctx.tar.gz")
        assert fetched.returncode == 0, fetched.stderr
        seen = berth("run", "--rm", "fetched:1", "cat", "/in.txt")
        assert seen.stdout == "t\n", seen.stderr + fetched.stderr
        piped = subprocess.run(
            berth.argv("build", "-t", "piped:1", "-"), input=packed.getvalue(),
            capture_output=True, env=berth.env, check=False,
        )  # fmt: skip
        assert piped.returncode == 0, piped.stderr
        alone = berth("build", "-t", "alone:1", "-", input="FROM busybox\nENV ALONE=1\n")
        assert alone.returncode == 0, alone.stderr
        assert "ALONE=1" in berth("run", "--rm", "alone:1", "env").stdout
    finally:
        server.terminate()
        server.wait(10)


def test_the_step_view_for_terminals(berth: Berth, busybox: str, tmp_path: Path) -> None:
    text = 'FROM busybox\nRUN echo out-line\nCMD ["true"]\n'
    context = _context(tmp_path / "view", text)
    shown = _ok(berth, context, "--progress", "tty", "-t", "view:1")
    assert "[+] Building" in shown and "(3/3)" in shown
    assert " => [stage-0 2/3] RUN echo out-line" in shown
    again = _ok(berth, context, "--progress", "tty", "-t", "view:1")
    assert " => CACHED [stage-0 2/3] RUN echo out-line" in again


def test_onbuild_triggers_run_in_the_child_build(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    parent = _context(
        tmp_path / "parent",
        "FROM busybox\nONBUILD COPY app.txt /app/\nONBUILD RUN echo triggered > /app/flag\n",
    )
    _ok(berth, parent, "-t", "parent:1")
    triggers = berth("image", "inspect", "-f", "{{json .Config.OnBuild}}", "parent:1").stdout
    assert json.loads(triggers) == ["COPY app.txt /app/", "RUN echo triggered > /app/flag"]
    child = _context(tmp_path / "child", "FROM parent:1\nCMD cat /app/app.txt /app/flag\n",
                     **{"app.txt": "child app\n"})  # fmt: skip
    _ok(berth, child, "-t", "child:1")
    assert berth("run", "--rm", "child:1").stdout == "child app\ntriggered\n"
    inherited = berth("image", "inspect", "-f", "{{json .Config.OnBuild}}", "child:1").stdout
    assert json.loads(inherited) in (None, [])  # triggers run once, not inherited


def test_copy_from_a_stage_with_wildcards_owners_and_renames(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    text = (
        "FROM busybox AS src\n"
        "RUN mkdir -p /out/sub && echo a > /out/a.txt && echo b > /out/b.txt"
        " && echo c > /out/c.log && echo s > /out/sub/s && chown 1234:1234 /out/a.txt\n"
        "FROM busybox\n"
        "COPY --from=src /out/*.txt /dst/\n"
        "COPY --from=src /out/c.log /renamed.log\n"
        "COPY --from=src --chown=7:7 /out/sub /owned\n"
        'CMD ["sh", "-c", "ls /dst; stat -c %u /dst/a.txt; cat /renamed.log;'
        ' stat -c %u /owned/s"]\n'
    )
    context = _context(tmp_path / "from", text)
    _ok(berth, context, "-t", "from:1")
    assert berth("run", "--rm", "from:1").stdout.split() == ["a.txt", "b.txt", "1234", "c", "7"]
    (context / "Dockerfile").write_text(
        "FROM busybox AS src\nFROM busybox\nCOPY --from=src /nope /x\n"
    )
    missing = _build(berth, context)
    assert missing.returncode == 1 and '"/nope": not found' in missing.stderr
    assert berth("ps", "-aq").stdout == ""


def test_copy_from_places_what_a_tar_of_the_sources_would(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """COPY --from keeps the source's tree: nested directories, a link as a link, a file
    under two names as one file, a fifo, modes, owners and times; a source path through a
    link of the source image is followed there."""
    text = (
        "FROM busybox AS src\n"
        "RUN mkdir -p /tree/deep/er && echo x > /tree/deep/er/f && chmod 640 /tree/deep/er/f"
        " && ln -s er/f /tree/deep/link && ln /tree/deep/er/f /tree/hard && mkfifo /tree/pipe"
        " && chown 5:6 /tree/deep && touch -d @981173106 /tree/deep/er/f && ln -s /tree /via\n"
        "FROM busybox\n"
        "COPY --from=src /via/ /copy/\n"
    )
    context = _context(tmp_path / "tree", text)
    _ok(berth, context, "-t", "tree:1")
    script = (
        "cd /copy && stat -c '%n %a %u:%g' deep deep/er/f && stat -c %Y deep/er/f"
        " && readlink deep/link && cat deep/link && [ -p pipe ] && echo fifo"
        " && [ $(stat -c %i hard) = $(stat -c %i deep/er/f) ] && stat -c %h hard"
    )
    shown = berth("run", "--rm", "tree:1", "sh", "-c", script)
    assert shown.stdout.split("\n") == [
        "deep 755 5:6",
        "deep/er/f 640 0:0",
        "981173106",
        "er/f",
        "x",
        "fifo",
        "2",
        "",
    ], shown.stderr


def test_an_interrupted_build_stops_and_leaves_nothing(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    import signal

    text = "FROM busybox AS a\nRUN sleep 60\nFROM busybox\nCOPY --from=a /etc/hostname /\n"
    text += "RUN sleep 60\n"
    context = _context(tmp_path / "interrupted", text)
    build = berth.popen("build", "--progress", "plain", "-t", "never:1", str(context))
    try:
        seen = ""
        assert build.stderr is not None
        while "[a 2/2] RUN sleep 60" not in seen:  # the first stage's RUN is running
            line = build.stderr.readline()
            assert line, f"the build ended early: {seen}"
            seen += line
        time.sleep(0.5)
        started = time.monotonic()
        build.send_signal(signal.SIGTERM)
        build.wait(30)
        assert time.monotonic() - started < 15  # not the minute the steps would take
        assert build.returncode != 0
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert berth("ps", "-aq").stdout == ""
    assert berth("images", "-q", "never").stdout == ""
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_remembered_file_changed_in_place_is_copied_again(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    dockerfile = 'FROM busybox\nCOPY note.txt /\nCMD ["cat", "/note.txt"]\n'
    context = _context(tmp_path / "app", dockerfile, **{"note.txt": "one\n"})
    time.sleep(0.3)  # settled (berth.build.inputs.SETTLED_NS): its digest is remembered
    _ok(berth, context, "-t", "note")
    assert _cached(_ok(berth, context, "-t", "note")) == 2
    # Changed in place: the same size, its times put back. Its change time still tells.
    times = os.stat(context / "note.txt")
    (context / "note.txt").write_text("two\n")
    os.utime(context / "note.txt", ns=(times.st_atime_ns, times.st_mtime_ns))
    assert _cached(_ok(berth, context, "-t", "note")) == 0
    assert berth("run", "--rm", "note").stdout == "two\n"


def test_the_build_cache_outlives_the_image(berth: Berth, busybox: str, tmp_path: Path) -> None:
    context = _context(tmp_path / "app", APP, **{"hello.txt": "hello\n", "conf__a.conf": "a\n"})
    _ok(berth, context, "-t", "app")
    assert berth("rmi", "app").returncode == 0  # the collector frees what nothing holds
    assert _cached(_ok(berth, context, "-t", "app")) == 7
    assert berth("run", "--rm", "app").stdout == "hi from run\nhello\n"


LAZY = """\
FROM busybox AS tools
RUN head -c 300000 /dev/urandom > /big && echo made > /small
FROM busybox
COPY --from=tools /small /
CMD ["cat", "/small"]
"""


def test_only_the_layers_an_image_has_are_packed(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """A step only measures its layer (the diff_id its chain needs); the export packs the
    layers the image has, so a stage only copied from writes no blob. Built as a target later,
    its layers are packed then, from the cache, and the image is whole."""
    context = _context(tmp_path / "lazy", LAZY)
    blobs = berth.store.root / "content" / "blobs" / "sha256"
    before = set(os.listdir(blobs))
    _ok(berth, context, "-t", "lazy:final")
    assert berth("run", "--rm", "lazy:final").stdout == "made\n"
    added = set(os.listdir(blobs)) - before
    assert _image_id(berth, "lazy:final").partition(":")[2] in added
    assert len(added) == 3  # the config, the manifest and the COPY's layer: not the RUN's

    output = _ok(berth, context, "-t", "lazy:tools", "--target", "tools")
    assert _cached(output) == 1
    archive_path = tmp_path / "tools.tar"
    saved = berth("save", "-o", str(archive_path), "lazy:tools")  # reads every blob
    assert saved.returncode == 0, saved.stderr
    sizes = []
    with tarfile.open(archive_path) as archive:
        for member in archive.getmembers():
            stream = archive.extractfile(member) if member.name.startswith("blobs/") else None
            data = stream.read() if stream is not None else b""
            if data[257:262] == b"ustar":  # a layer (the others are JSON)
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    sizes += [(m.name, m.size) for m in layer.getmembers()]
    assert ("big", 300_000) in sizes


def test_a_layer_damaged_before_its_export_fails_the_build(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """A measured layer is packed from its directory when an image first has it: a directory
    changed since (a damaged store) packs to another diff_id, and the build fails saying so
    rather than write an image whose layer is not what its config says. Built again once the
    cache is pruned (which frees the damaged layer), it is whole."""
    text = "FROM busybox AS tools\nRUN echo precious > /data\n"
    text += "FROM busybox\nCOPY --from=tools /data /\n"
    context = _context(tmp_path / "damaged", text)
    _ok(berth, context, "-t", "damaged:final")
    damaged = 0
    for fs in (berth.store.root / "snapshots").glob("*/fs"):
        data = fs / "data"
        if data.is_file() and data.read_text() == "precious\n":
            data.write_text("tampered\n")
            damaged += 1
    assert damaged == 2  # the RUN's layer and the final stage's COPY of it
    result = _build(berth, context, "-t", "damaged:tools", "--target", "tools")
    assert result.returncode != 0 and "changed on disk" in result.stderr, result.stderr
    assert "builder prune -a" in result.stderr
    assert "Traceback" not in result.stderr
    assert berth("images", "-q", "damaged:tools").stdout == ""
    assert berth("builder", "prune", "-a", "-f").returncode == 0
    _ok(berth, context, "-t", "damaged:tools", "--target", "tools")
    shown = berth("run", "--rm", "damaged:tools", "cat", "/data")
    assert shown.stdout == "precious\n", shown.stderr
