"""Build the benchmark's Debian images once, cached by recipe hash, and push them.

Why real Debian images: a pull's cost is in many small files, hardlinks, symlinks, modes and
xattrs, which a generated tarball does not reproduce. The recipe:

- `base`: `debootstrap --variant=minbase bookworm`, cleaned like Debian's official image
  (no /dev contents, no host hostname/hosts/resolv.conf, no apt lists or caches).
- `postgresql`: `apt-get install postgresql-15` in a chroot on an overlay of the base; the
  layer is the overlay's upper dir, whiteouts translated to `.wh.` names.
- `many-files`: the kernel's common headers and Go's source tree (real small files, >20k).
- `redis` (the warm pull's image): base + redis-server, so it shares only the base layer.

Layers are built on /dev/shm (the root filesystem creates files slowly, DESIGN §7b), in a
private mount namespace (`unshare -m`), so a failure leaves no mount behind. Each stage's layer
is cached under `.cache/bench-images/layers/<hash>` keyed by its recipe and its parents'; each
image's OCI layout under `.cache/bench-images/images/<hash>`. Must not import `berth`.

Run `python -m bench.images` to build (and print the sizes); `--push HOST` to push too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bench.oci import Layer, LayoutWriter, sha256_file
from bench.proc import run, unmount_all

log = logging.getLogger("bench.images")

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = REPO_ROOT / ".cache" / "bench-images"
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
BUILDER_VERSION = 1  # bump when the build steps change in a way the recipe doesn't show
SCRATCH = Path("/dev/shm")  # tmpfs: debootstrap and dpkg unpack ~10x faster than on /
SKOPEO = "/usr/bin/skopeo"

# Resolved inside the chroot: the kernel ABI in a package name changes with point releases.
LINUX_HEADERS = "@linux-headers-common"


@dataclass(frozen=True, slots=True)
class Stage:
    """One layer's recipe: debootstrap a base, or apt-get install packages on the parents."""

    name: str
    parent: Stage | None
    packages: tuple[str, ...] = ()

    def chain(self) -> list[Stage]:
        """This stage and its ancestors, base first (the image's layer order)."""
        stages: list[Stage] = []
        stage: Stage | None = self
        while stage is not None:
            stages.append(stage)
            stage = stage.parent
        return stages[::-1]

    def recipe(self) -> dict[str, object]:
        return {
            "builder": BUILDER_VERSION,
            "suite": SUITE,
            "mirror": MIRROR,
            "name": self.name,
            "packages": list(self.packages),
            "parent": self.parent.key() if self.parent else None,
        }

    def key(self) -> str:
        blob = json.dumps(self.recipe(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def created_by(self) -> str:
        if self.parent is None:
            return f"debootstrap --variant=minbase {SUITE} / {MIRROR}"
        return "apt-get install --no-install-recommends " + " ".join(self.packages)


BASE = Stage("base", None)
POSTGRESQL = Stage("postgresql", BASE, ("postgresql-15",))
MANY_FILES = Stage("many-files", POSTGRESQL, (LINUX_HEADERS, "golang-1.19-src"))
REDIS = Stage("redis", BASE, ("redis-server",))


@dataclass(frozen=True, slots=True)
class ImageRecipe:
    """A tagged image: its repository path on the registry and its top stage."""

    repository: str
    tag: str
    top: Stage
    cmd: tuple[str, ...] = ("bash",)

    def key(self) -> str:
        blob = json.dumps(
            {"repo": self.repository, "tag": self.tag, "top": self.top.key(), "cmd": self.cmd},
            sort_keys=True,
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


COLD_IMAGE = ImageRecipe("bench/debian-pg", "1", MANY_FILES)
WARM_IMAGE = ImageRecipe("bench/debian-redis", "1", REDIS)
TINY_REPOSITORY = "bench/tiny"


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """An image's layout on disk and its layers (for size reports and warm-pull checks)."""

    recipe: ImageRecipe
    layout: Path
    layers: tuple[Layer, ...]

    @property
    def reference_path(self) -> str:
        return f"{self.recipe.repository}:{self.recipe.tag}"

    def summary(self) -> dict[str, object]:
        return {
            "image": self.reference_path,
            "layers": [
                {
                    "created_by": layer.created_by,
                    "digest": layer.digest,
                    "compressed_bytes": layer.size,
                    "uncompressed_bytes": layer.uncompressed_size,
                    "entries": layer.entries,
                }
                for layer in self.layers
            ],
            "compressed_bytes": sum(layer.size for layer in self.layers),
            "uncompressed_bytes": sum(layer.uncompressed_size for layer in self.layers),
            "entries": sum(layer.entries for layer in self.layers),
        }


# ----------------------------------------------------------------------------- layers


def _layer_from_cache(directory: Path, created_by: str) -> Layer | None:
    meta = directory / "layer.json"
    if not meta.exists():
        return None
    data = json.loads(meta.read_text())
    return Layer(
        path=directory / "layer.tar.gz",
        digest=data["digest"],
        size=data["size"],
        diff_id=data["diff_id"],
        uncompressed_size=data["uncompressed_size"],
        entries=data["entries"],
        created_by=str(data.get("created_by", created_by)),
    )


def _overlay_to_oci_whiteouts(upper: Path) -> None:
    """Rewrite overlayfs whiteouts (char 0/0, opaque xattr) as OCI's `.wh.` names."""
    for dirpath, dirnames, filenames in os.walk(upper):
        here = Path(dirpath)
        try:
            opaque = os.getxattr(here, "trusted.overlay.opaque") == b"y"
        except OSError:
            opaque = False
        if opaque:
            os.removexattr(here, "trusted.overlay.opaque")
            (here / ".wh..wh..opq").touch(mode=0o600)
        for name in [*filenames, *dirnames]:
            path = here / name
            st = path.lstat()
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                path.unlink()
                (here / f".wh.{name}").touch(mode=0o600)


def _oci_to_overlay_whiteouts(root: Path) -> None:
    """The reverse, for a cached layer extracted as an overlay lower dir."""
    for dirpath, _dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in filenames:
            if name == ".wh..wh..opq":
                (here / name).unlink()
                os.setxattr(here, "trusted.overlay.opaque", b"y")
            elif name.startswith(".wh."):
                (here / name).unlink()
                os.mknod(here / name.removeprefix(".wh."), stat.S_IFCHR | 0o600, 0)


TAR_CREATE = [
    "tar",
    "--numeric-owner",
    "--xattrs",
    "--xattrs-include=*",
    "--xattrs-exclude=trusted.overlay.*",
    "--sort=name",
    "-cf",
    "-",
]


def _pack_layer(root: Path, out_dir: Path, scratch: Path, created_by: str) -> Layer:
    """Tar root with GNU tar, compress with igzip, record both digests, commit by rename.

    GNU tar keeps numeric owners, hardlinks and xattrs (file capabilities) faithfully; overlay's
    own xattrs are left out; `--sort=name` makes the tar independent of readdir order.
    igzip -3 lands near gzip -6's ratio (what registries usually serve) many times faster.
    """
    entries = sum(len(d) + len(f) for _, d, f in os.walk(root)) + 1  # +1: "." itself
    tar_path = scratch / "layer.tar"
    with tar_path.open("wb") as out:
        run_to_file([*TAR_CREATE, "-C", str(root), "."], out)
    diff_id = sha256_file(tar_path)
    uncompressed = tar_path.stat().st_size
    tmp_dir = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    gz_path = tmp_dir / "layer.tar.gz"
    with gz_path.open("wb") as out:
        run_to_file(["igzip", "-3", "-c", str(tar_path)], out)
    tar_path.unlink()
    meta = {
        "digest": sha256_file(gz_path),
        "size": gz_path.stat().st_size,
        "diff_id": diff_id,
        "uncompressed_size": uncompressed,
        "entries": entries,
        "created_by": created_by,
    }
    (tmp_dir / "layer.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp_dir.rename(out_dir)
    layer = _layer_from_cache(out_dir, created_by)
    assert layer is not None
    return layer


def run_to_file(argv: list[str], out: BinaryIO) -> None:
    """Run argv with stdout into an open file (big outputs must not pass through Python)."""
    log.debug("run %s > file", argv)
    proc = subprocess.run(
        argv,
        check=False,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.PIPE,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")


def _extract_layer(layer: Layer, target: Path) -> None:
    """Unpack a cached parent layer as an overlay lower dir (build-time only, trusted input)."""
    target.mkdir(parents=True)
    run(
        [
            "tar",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-I",
            "igzip",
            "-xpf",
            layer.path,
            "-C",
            target,
        ],
        timeout=1800,
    )
    _oci_to_overlay_whiteouts(target)


def _debootstrap(work: Path) -> Path:
    """A minbase rootfs, cleaned of what Debian's official image also leaves out."""
    rootfs = work / "rootfs"
    # A private mount namespace: debootstrap's /proc and /sys mounts die with it.
    run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "debootstrap",
            "--variant=minbase",
            SUITE,
            rootfs,
            MIRROR,
        ],
        timeout=3600,
    )
    for child in (rootfs / "dev").iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for name in ("etc/hostname", "etc/hosts", "etc/resolv.conf", "var/log/bootstrap.log"):
        (rootfs / name).unlink(missing_ok=True)
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"):
        for path in rootfs.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return rootfs


APT_SCRIPT = r"""
set -euo pipefail
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$OVLWORK" "$MERGED"
mount -t proc proc "$MERGED/proc"
mount --rbind /dev "$MERGED/dev"
cp -L /etc/resolv.conf "$MERGED/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$MERGED/usr/sbin/policy-rc.d"
chmod 755 "$MERGED/usr/sbin/policy-rc.d"
if [ -n "$PG_NO_CLUSTER" ]; then
  # As the official postgres image does: packages, not a database cluster.
  mkdir -p "$MERGED/etc/postgresql-common"
  echo 'create_main_cluster = false' > "$MERGED/etc/postgresql-common/createcluster.conf"
fi
c() {
  chroot "$MERGED" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
c apt-get update -qq
pkgs=()
for p in $PACKAGES; do
  if [ "$p" = "@linux-headers-common" ]; then
    p=$(c apt-cache depends linux-headers-amd64 \
        | sed -n 's/^ *Depends: \(linux-headers-.*\)-amd64$/\1-common/p' | head -n1)
  fi
  pkgs+=("$p")
done
echo "${pkgs[*]}" > "$RESOLVED"
c apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold "${pkgs[@]}"
c apt-get clean
rm -rf "$MERGED"/var/lib/apt/lists/* "$MERGED"/var/cache/apt/*.bin
rm -f "$MERGED/usr/sbin/policy-rc.d" "$MERGED/etc/resolv.conf"
umount -R "$MERGED/dev"
umount "$MERGED/proc"
umount "$MERGED"
"""


def _apt_layer(stage: Stage, parents: list[Layer], work: Path) -> tuple[Path, str]:
    """Install packages on an overlay of the parents; the upper dir is the new layer."""
    lowers = []
    for i, parent in enumerate(parents):
        lower = work / f"lower{i}"
        _extract_layer(parent, lower)
        lowers.append(lower)
    upper, ovlwork, merged = work / "upper", work / "ovlwork", work / "merged"
    for d in (upper, ovlwork, merged):
        d.mkdir()
    resolved = work / "resolved"
    env = {
        **os.environ,
        "LOWER": ":".join(str(p) for p in reversed(lowers)),  # overlay: topmost first
        "UPPER": str(upper),
        "OVLWORK": str(ovlwork),
        "MERGED": str(merged),
        "PACKAGES": " ".join(stage.packages),
        "RESOLVED": str(resolved),
        "PG_NO_CLUSTER": "1" if any(p.startswith("postgresql") for p in stage.packages) else "",
    }
    run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", APT_SCRIPT],
        env=env,
        timeout=3600,
    )
    return upper, resolved.read_text().strip()


def build_stage(stage: Stage) -> Layer:
    """The stage's layer from the cache, building it (and its parents) on a miss."""
    out_dir = CACHE / "layers" / stage.key()
    cached = _layer_from_cache(out_dir, stage.created_by())
    if cached is not None:
        return cached
    parents = [build_stage(s) for s in stage.chain()[:-1]]
    log.info("building layer %s (%s)", stage.name, stage.key())
    work = Path(tempfile.mkdtemp(prefix="berth-bench-build-", dir=SCRATCH))
    try:
        created_by = stage.created_by()
        if stage.parent is None:
            root = _debootstrap(work)
        else:
            root, resolved = _apt_layer(stage, parents, work)
            created_by = "apt-get install --no-install-recommends " + resolved
        _overlay_to_oci_whiteouts(root)
        return _pack_layer(root, out_dir, work, created_by)
    finally:
        unmount_all(work)  # only if a step died between mount and umount
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- images


def build_image(recipe: ImageRecipe) -> BuiltImage:
    """The image's OCI layout from the cache, building missing layers first."""
    layers = [build_stage(stage) for stage in recipe.top.chain()]
    layout = CACHE / "images" / recipe.key()
    if not (layout / "index.json").exists():
        shutil.rmtree(layout, ignore_errors=True)
        writer = LayoutWriter(layout)
        writer.add_image(recipe.tag, layers, cmd=list(recipe.cmd))
        writer.close()
    return BuiltImage(recipe, layout, tuple(layers))


def build_tiny_images(count: int) -> tuple[Path, list[str]]:
    """`count` distinct one-layer images (one small file each) in one layout, for `images`.

    They are generated, not Debian: the start-up benchmark lists images, their content is
    irrelevant, and 50 distinct configs and layers are what makes 50 rows.
    """
    tags = [f"{i:02d}" for i in range(count)]
    layout = CACHE / "images" / f"tiny-{count}-v{BUILDER_VERSION}"
    if (layout / "index.json").exists():
        return layout, tags
    shutil.rmtree(layout, ignore_errors=True)
    writer = LayoutWriter(layout)
    with tempfile.TemporaryDirectory(prefix="berth-bench-tiny-", dir=SCRATCH) as tmp:
        for tag in tags:
            root = Path(tmp) / tag / "root"
            (root / "tiny").mkdir(parents=True)
            (root / "tiny" / "id").write_text(f"tiny image {tag}\n")
            layer = _pack_layer(
                root, Path(tmp) / tag / "layer", Path(tmp) / tag, f"tiny image {tag}"
            )
            writer.add_image(tag, [layer], cmd=["/bin/true"], labels={"bench.tiny": tag})
        writer.close()
    return layout, tags


def push(layout: Path, tag: str, destination: str) -> None:
    """Push `oci:layout:tag` to a plain-HTTP registry as Docker schema 2.

    Docker schema 2 (not OCI) so Debian's docker 20.10 and every other client take it;
    skopeo keeps the gzip blobs byte for byte, only the manifest's media types change.
    """
    run(
        [
            SKOPEO,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--format",
            "v2s2",
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{destination}",
        ],
        timeout=900,
    )


def push_image(built: BuiltImage, host: str) -> str:
    """Push a built image; return the reference clients pull."""
    reference = f"{host}/{built.reference_path}"
    push(built.layout, built.recipe.tag, reference)
    return reference


def push_tiny_images(layout: Path, tags: list[str], host: str) -> list[str]:
    references = []
    for tag in tags:
        reference = f"{host}/{TINY_REPOSITORY}:{tag}"
        push(layout, tag, reference)
        references.append(reference)
    return references


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__)
    parser.add_argument("--push", metavar="HOST:PORT", help="push the images to this registry")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    for recipe in (COLD_IMAGE, WARM_IMAGE):
        built = build_image(recipe)
        print(json.dumps(built.summary(), indent=2))
        if args.push:
            print("pushed", push_image(built, args.push))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
