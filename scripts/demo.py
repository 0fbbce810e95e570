"""The quick-start demo: the founding walkthrough, for real and without internet.

Debian's docker-registry on 127.0.0.1 serves `debian` and `postgres` images built from Debian's
own packages (imagebuild.walkthrough; built once, cached in .cache/images). berth's
registries.toml makes that registry the `docker.io` mirror, so the commands are Docker Hub's:
pull two postgres 15 point releases (the second finds its shared layers "Already exists"), run
15 and 13 side by side on published ports, ask each for its version with psql, then images
against containers and what the layers share.

Run it with `make demo`. KEEP=1 leaves the containers running (and prints how to reach and
remove them). The store is a tmpfs of its own; the registry's storage is kept in
.cache/walkthrough so later runs push nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imagebuild.walkthrough import WalkthroughImages, build_all, push_all  # noqa: E402
from tests.fixtures.registry import RunningRegistry, start_registry  # noqa: E402
from tests.fixtures.store import Store, mount_store, unmount_store  # noqa: E402

BERTH = REPO / ".venv" / "bin" / "berth"
REGISTRY_DIR = REPO / ".cache" / "walkthrough" / "registry"
PASSWORD = "walkthrough"
READY_TIMEOUT = 120.0


def say(text: str) -> None:
    print(f"\n\033[1m# {text}\033[0m" if sys.stdout.isatty() else f"\n# {text}", flush=True)


def shown(argv: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in argv)


def start_demo_registry(images: WalkthroughImages) -> RunningRegistry:
    """The registry on its kept storage, with every image pushed (only what changed)."""
    (REGISTRY_DIR / "registry.log").unlink(missing_ok=True)
    registry = start_registry(REGISTRY_DIR)
    try:
        stamp = registry.storage / "pushed.json"  # beside the registry's own docker/ tree
        # name -> the layout's directory name, which is its recipe's hash
        wanted = {name: image.built.layout.name for image in images.all for name in image.names}
        done = json.loads(stamp.read_text()) if stamp.exists() else {}
        if done != wanted:
            print(f"pushing {len(wanted)} tags...", flush=True)
            push_all(images, registry.host)
            stamp.write_text(json.dumps(wanted, indent=2))
    except BaseException:
        registry.stop()
        raise
    return registry


class Demo:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.env = {
            **os.environ,
            "BERTH_ROOT": str(store.root),
            "BERTH_RUNROOT": str(store.runroot),
        }

    def berth(self, *args: str, check: bool = True) -> None:
        print(f"$ berth {shown(list(args))}", flush=True)
        subprocess.run([str(BERTH), *args], env=self.env, check=check)

    def quiet(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BERTH), *args], env=self.env, capture_output=True, text=True, check=False
        )

    def psql(self, port: int, sql: str) -> None:
        argv = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", sql]
        print(f"$ PGPASSWORD={PASSWORD} {shown(argv)}", flush=True)
        env = {**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "5"}
        subprocess.run(argv, env=env, check=True)

    def wait_ready(self, name: str, port: int) -> None:
        """Until the server answers on the published port (the first start runs initdb)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2"]
            if subprocess.run(probe, check=False).returncode == 0:
                return
            if self.quiet("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
                self.berth("logs", name, check=False)
                raise SystemExit(f"demo: {name} stopped")
            time.sleep(0.5)
        self.berth("logs", name, check=False)
        raise SystemExit(f"demo: {name} did not answer on 127.0.0.1:{port}")

    def play(self, images: WalkthroughImages) -> None:
        old, new, pg13 = images.pg15_older, images.pg15, images.pg13

        say(
            f"Pull postgres:{old.version}: each layer is fetched, verified and unpacked, "
            "with its own progress"
        )
        self.berth("pull", f"postgres:{old.version}")
        say(
            f"Pull another version, postgres:15 ({new.version}): only the layer that differs is "
            "downloaded, the shared ones 'Already exists'"
        )
        self.berth("pull", "postgres:15")

        say("Run it: port 5433 on this machine is port 5432 in the container")
        self.berth(
            "run", "-d", "--name", "pg15", "-e", f"POSTGRES_PASSWORD={PASSWORD}",
            "-p", "5433:5432", "postgres:15",
        )  # fmt: skip
        say(
            f"Another major version at the same time ({pg13.version}), on 5434; run pulls what is "
            "missing (the entrypoint layer is shared even on another base)"
        )
        self.berth(
            "run", "-d", "--name", "pg13", "-e", f"POSTGRES_PASSWORD={PASSWORD}",
            "-p", "5434:5432", "postgres:13",
        )  # fmt: skip
        for name, port in (("pg15", 5433), ("pg13", 5434)):
            self.wait_ready(name, port)
        say("Both run without conflict: their own filesystem, processes, network and port")
        self.berth("ps")
        self.berth("port", "pg15")
        self.berth("logs", "--tail", "2", "pg15")

        say("Each answers on its own port, as its own version")
        self.psql(5433, "select version()")
        self.psql(5434, "select version()")

        say(
            "An image is an artifact lying around; run it and it is a container "
            "(which stays, stopped, until removed)"
        )
        self.berth("run", "--name", "once", f"postgres:{old.version}", "postgres", "--version")
        self.berth("images")
        self.berth("ps", "-a")

        say("What the images share: the base and entrypoint layers are stored once")
        self.berth("system", "df", "-v")

    def clean(self) -> None:
        say("Clean up: containers, then images (their layers go with the last image using them)")
        self.berth("rm", "-f", "pg15", "pg13", "once", check=False)
        tags = self.quiet("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        if tags:
            self.berth("rmi", *tags, check=False)


def main() -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    if not shutil.which("psql"):
        raise SystemExit("demo: psql is missing (scripts/setup installs postgresql-client)")
    say("Building the images from Debian packages (once: later runs take them from .cache/images)")
    logging.basicConfig(level=logging.INFO, format="  %(message)s")  # which layer is building
    images = build_all()
    for image in images.all:
        print(f"  {', '.join(image.names)}")
    say("A local registry (Debian's docker-registry) serves them, pushed by skopeo")
    registry = start_demo_registry(images)
    print(f"listening on {registry.host}")
    work = Path(tempfile.mkdtemp(prefix="berth-demo-"))
    store = mount_store(work / "store")
    demo = Demo(store)
    finished = False
    try:
        conf = store.root / "registries.toml"
        conf.write_text(
            f'[registries."docker.io"]\nmirrors = ["http://{registry.host}"]\nmirrors_only = true\n'
        )
        say(f"berth's {conf.name} makes it docker.io's mirror, so the names are Docker Hub's:")
        print(conf.read_text(), end="")
        demo.play(images)
        finished = True
    finally:
        if keep and finished:
            env = f"BERTH_ROOT={store.root} BERTH_RUNROOT={store.runroot}"
            print(
                f"\nkept running: pg15 on 127.0.0.1:5433, pg13 on 127.0.0.1:5434 (password "
                f"{PASSWORD}), the registry on {registry.host} (pid {registry.process.pid}).\n"
                f"  export {env}\n"
                f"  PGPASSWORD={PASSWORD} psql -h 127.0.0.1 -p 5433 -U postgres\n"
                f"to remove it all:\n"
                f"  {env} {BERTH} rm -f pg15 pg13 once; kill {registry.process.pid}; "
                f"umount -R {store.mountpoint}; rm -rf {work}"
            )
        else:
            demo.clean()
            registry.stop()
            leftovers = unmount_store(store)
            if leftovers:
                print(f"demo: unmounted leftovers {leftovers}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
