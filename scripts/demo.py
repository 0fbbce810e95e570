"""The quick-start demo: a local registry, images pushed by skopeo, and berth pulling them
under Docker Hub names through a mirror, layer by layer, never fetching a layer twice.

Run it with `make demo` (add `KEEP=1` to keep the store and registry files afterwards).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures import oci_layout as oci  # noqa: E402
from tests.fixtures.images import app_layer, base_entries  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402

BERTH = REPO / ".venv" / "bin" / "berth"


def say(text: str) -> None:
    print(f"\n\033[1m# {text}\033[0m" if sys.stdout.isatty() else f"\n# {text}", flush=True)


def build_and_push(host: str, work: Path) -> None:
    base = oci.make_tar(base_entries())
    images = {
        "demo/web:1": [base, oci.make_tar(app_layer("web-1"))],
        "demo/web:2": [base, oci.make_tar(app_layer("web-2"))],
    }
    for name, tars in images.items():
        built = oci.build_image(tars, "gzip", "docker", config=oci.ImageConfig(cmd=("/bin/sh",)))
        layout = work / "layouts" / name.replace("/", "_").replace(":", "_")
        oci.write_layout(layout, {"v": built})
        oci.push(layout, "v", f"{host}/{name}")


def main() -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    work = Path(tempfile.mkdtemp(prefix="berth-demo-"))
    store = work / "store"
    (store / "root").mkdir(parents=True)
    registry = start_registry(work / "registry")
    env = {**os.environ, "BERTH_ROOT": str(store / "root"), "BERTH_RUNROOT": str(store / "run")}
    try:
        say(f"A local registry (Debian's docker-registry) listens on {registry.host}")
        build_and_push(registry.host, work)
        (store / "root" / "registries.toml").write_text(
            f'[registries."docker.io"]\nmirrors = ["http://{registry.host}"]\nmirrors_only = true\n'
        )
        say("berth's registries.toml sends docker.io to it as a mirror:")
        print((store / "root" / "registries.toml").read_text(), end="")

        def berth(*args: str) -> None:
            print(f"$ berth {' '.join(args)}", flush=True)
            subprocess.run([str(BERTH), *args], env=env, check=True)

        say("Pull an image: each layer is fetched, verified and unpacked")
        berth("pull", "demo/web:1")
        say("Pull another version: the shared base layer 'Already exists'")
        berth("pull", "demo/web:2")
        say("Run both versions at once: each container has its own filesystem and processes")
        for tag in ("1", "2"):
            berth(
                "run",
                "-d",
                "--name",
                f"web{tag}",
                f"demo/web:{tag}",
                "sh",
                "-c",
                "/app/run.sh; echo my pid is $$; sleep 60",
            )
        berth("ps")
        berth("logs", "web1")
        berth("logs", "web2")
        say("An image not running is an artifact lying around; started, it is a container")
        berth("rm", "-f", "web1", "web2")
        say("The images, and what their layers share")
        berth("images")
        berth("system", "df", "-v")
        berth("history", "demo/web:2")
        say("Remove one version: the base stays for the other")
        berth("rmi", "demo/web:1")
        berth("images")
    finally:
        registry.stop()
        if keep:
            print(f"\nkept: store {store}, registry files {work / 'registry'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
