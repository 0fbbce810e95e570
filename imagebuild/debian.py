"""Build Debian-based images without a daemon, once, cached by recipe hash.

An image is a chain of stages, each one layer:

- a base `Stage` (no parent): `debootstrap --variant=minbase SUITE`, cleaned like Debian's
  official image (no /dev contents, no host hostname/hosts/resolv.conf, no apt lists or caches);
- an apt `Stage` (a parent): `apt-get install` in a chroot on an overlay of the parents' layers;
  the layer is the overlay's upper dir, whiteouts translated to `.wh.` names. Optional shell
  steps run in the chroot before and after the install; `security=True` also installs from
  `SUITE-security` (where Debian's newer point releases are); the installed versions of the
  named packages are recorded with the layer;
- a `FilesStage`: a few files and directories (a `COPY`), independent of what is under it, so
  the very same blob can sit on different bases.

The pitfalls: package scripts in a chroot must not start services (a `policy-rc.d` that exits
101), postgresql-common must not create a cluster (`create_main_cluster = false`), and
debootstrap leaves device nodes and the host's hostname/hosts/resolv.conf behind.

Layers are built on /dev/shm (the root filesystem creates files slowly, DESIGN §7b), in a
private mount namespace (`unshare -m`), so a failure leaves no mount behind. Each layer is
cached under `.cache/images/layers/<hash>` keyed by its recipe and its parents'; each image's
OCI layout under `.cache/images/images/<hash>`. Only deb.debian.org is contacted.
Must not import `berth`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagebuild.oci import Layer, LayoutWriter, sha256_file
from imagebuild.proc import run, run_to_file, unmount_all

log = logging.getLogger("imagebuild")

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = REPO_ROOT / ".cache" / "images"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEFAULT_SUITE = "bookworm"
BUILDER_VERSION = 1  # bump when the build steps change in a way the recipe doesn't show
SCRATCH = Path("/dev/shm")  # tmpfs: debootstrap and dpkg unpack ~10x faster than on /
SKOPEO = "/usr/bin/skopeo"
FIXED_MTIME = 1767225600  # 2026-01-01T00:00:00Z: a files layer is the same blob every build

# Resolved inside the chroot: the kernel ABI in a package name changes with point releases.
LINUX_HEADERS = "@linux-headers-common"


@dataclass(frozen=True, slots=True)
class Stage:
    """One layer's recipe: debootstrap a base (`suite`), or apt-get install on the parents."""

    name: str
    parent: Stage | None
    packages: tuple[str, ...] = ()
    suite: str | None = None  # a base's Debian suite (default bookworm); others inherit it
    security: bool = False  # install from SUITE-security too (kept in the image's sources)
    before: str = ""  # shell run in the chroot before `apt-get install`
    after: str = ""  # shell run in the chroot after it
    record: tuple[str, ...] = ()  # packages whose installed versions the layer records

    def chain(self) -> list[Stage]:
        """This stage and its ancestors, base first (the image's layer order)."""
        stages: list[Stage] = []
        stage: Stage | None = self
        while stage is not None:
            stages.append(stage)
            stage = stage.parent
        return stages[::-1]

    @property
    def debian_suite(self) -> str:
        return self.chain()[0].suite or DEFAULT_SUITE

    def recipe(self) -> dict[str, object]:
        recipe: dict[str, object] = {
            "builder": BUILDER_VERSION,
            "suite": self.debian_suite,
            "mirror": MIRROR,
            "name": self.name,
            "packages": list(self.packages),
            "parent": self.parent.key() if self.parent else None,
        }
        # Only what is set, so the benchmark's older recipes keep their keys (and caches).
        for key, value in (
            ("security", self.security),
            ("before", self.before),
            ("after", self.after),
            ("record", list(self.record)),
        ):
            if value:
                recipe[key] = value
        return recipe

    def key(self) -> str:
        blob = json.dumps(self.recipe(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def created_by(self) -> str:
        if self.parent is None:
            return f"debootstrap --variant=minbase {self.debian_suite} / {MIRROR}"
        return "apt-get install --no-install-recommends " + " ".join(self.packages)


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file (with `content`) or, with `content=None`, a directory of a `FilesStage`."""

    path: str  # inside the image, relative (no leading slash)
    content: bytes | None
    mode: int


def _digest_or_none(content: bytes | None) -> str | None:
    return hashlib.sha256(content).hexdigest() if content is not None else None


@dataclass(frozen=True, slots=True)
class FilesStage:
    """A layer of a few files owned by root, with fixed times: what a Dockerfile's COPY makes.

    Its key depends on its content only, not on the layers under it: built once, it is the
    same blob (same digest) in every image that has it, whatever its base.
    """

    name: str
    files: tuple[FileSpec, ...]
    description: str  # the history's created_by, e.g. "COPY docker-entrypoint.sh /usr/local/bin/"

    def key(self) -> str:
        recipe = {
            "builder": BUILDER_VERSION,
            "name": self.name,
            "files": [[f.path, _digest_or_none(f.content), f.mode] for f in self.files],
            "description": self.description,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ImageRecipe:
    """A tagged image: its repository path, its top stage, files stages above it, its config.

    `config` adds or replaces keys of the image's run config (Env, Entrypoint, ExposedPorts...).
    """

    repository: str
    tag: str
    top: Stage
    cmd: tuple[str, ...] = ("bash",)
    files: tuple[FilesStage, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        recipe: dict[str, object] = {
            "repo": self.repository,
            "tag": self.tag,
            "top": self.top.key(),
            "cmd": self.cmd,
        }
        if self.files:  # only when set: the benchmark's layouts keep their keys
            recipe["files"] = [stage.key() for stage in self.files]
        if self.config:
            recipe["config"] = dict(self.config)
        blob = json.dumps(recipe, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """An image's layout on disk and its layers (for size reports and layer-sharing checks)."""

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
        versions=tuple((str(k), str(v)) for k, v in data.get("versions", {}).items()),
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


MARKERS = ("layer.json", "index.json")  # written last: a directory with one is complete

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


def pack_layer(
    root: Path,
    out_dir: Path,
    scratch: Path,
    created_by: str,
    versions: Mapping[str, str] | None = None,
) -> Layer:
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
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.tmp-", dir=out_dir.parent))
    gz_path = tmp_dir / "layer.tar.gz"
    with gz_path.open("wb") as out:
        run_to_file(["igzip", "-3", "-c", str(tar_path)], out)
    tar_path.unlink()
    meta: dict[str, object] = {
        "digest": sha256_file(gz_path),
        "size": gz_path.stat().st_size,
        "diff_id": diff_id,
        "uncompressed_size": uncompressed,
        "entries": entries,
        "created_by": created_by,
    }
    if versions:
        meta["versions"] = dict(versions)
    (tmp_dir / "layer.json").write_text(json.dumps(meta, indent=2))
    _commit(tmp_dir, out_dir)
    layer = _layer_from_cache(out_dir, created_by)
    assert layer is not None
    return layer


def _commit(tmp_dir: Path, target: Path) -> None:
    """Rename a finished directory into place. Two builds of one recipe at once (the demo and
    the tests, say) each build in a directory of their own; the first to finish wins and the
    other's identical result is dropped. A leftover without its marker file is replaced."""
    if target.exists() and not any((target / name).exists() for name in MARKERS):
        shutil.rmtree(target, ignore_errors=True)
    try:
        tmp_dir.rename(target)
    except OSError:
        if not target.exists():
            raise
        shutil.rmtree(tmp_dir, ignore_errors=True)


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


def _debootstrap(suite: str, work: Path) -> Path:
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
            suite,
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
if [ -n "$SECURITY" ]; then
  echo "deb $SECURITY_MIRROR $SUITE-security main" \
    > "$MERGED/etc/apt/sources.list.d/debian-security.list"
fi
c() {
  chroot "$MERGED" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
c apt-get update -qq
if [ -n "$BEFORE" ]; then c bash -euo pipefail -c "$BEFORE"; fi
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
if [ -n "$AFTER" ]; then c bash -euo pipefail -c "$AFTER"; fi
: > "$VERSIONS"
for p in $RECORD; do
  c dpkg-query -W -f='${Package} ${Version}\n' "$p" >> "$VERSIONS"
done
c apt-get clean
rm -rf "$MERGED"/var/lib/apt/lists/* "$MERGED"/var/cache/apt/*.bin
rm -f "$MERGED/usr/sbin/policy-rc.d" "$MERGED/etc/resolv.conf"
umount -R "$MERGED/dev"
umount "$MERGED/proc"
umount "$MERGED"
"""


def _apt_layer(stage: Stage, parents: list[Layer], work: Path) -> tuple[Path, str, dict[str, str]]:
    """Install packages on an overlay of the parents; the upper dir is the new layer."""
    lowers = []
    for i, parent in enumerate(parents):
        lower = work / f"lower{i}"
        _extract_layer(parent, lower)
        lowers.append(lower)
    upper, ovlwork, merged = work / "upper", work / "ovlwork", work / "merged"
    for d in (upper, ovlwork, merged):
        d.mkdir()
    resolved, versions = work / "resolved", work / "versions"
    env = {
        **os.environ,
        "LOWER": ":".join(str(p) for p in reversed(lowers)),  # overlay: topmost first
        "UPPER": str(upper),
        "OVLWORK": str(ovlwork),
        "MERGED": str(merged),
        "PACKAGES": " ".join(stage.packages),
        "RESOLVED": str(resolved),
        "VERSIONS": str(versions),
        "RECORD": " ".join(stage.record),
        "SUITE": stage.debian_suite,
        "SECURITY": "1" if stage.security else "",
        "SECURITY_MIRROR": SECURITY_MIRROR,
        "BEFORE": stage.before,
        "AFTER": stage.after,
        "PG_NO_CLUSTER": "1" if any(p.startswith("postgresql") for p in stage.packages) else "",
    }
    run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", APT_SCRIPT],
        env=env,
        timeout=3600,
    )
    recorded = dict(line.split(" ", 1) for line in versions.read_text().splitlines() if line)
    return upper, resolved.read_text().strip(), recorded


def build_stage(stage: Stage, cache: Path = CACHE) -> Layer:
    """The stage's layer from the cache, building it (and its parents) on a miss."""
    out_dir = cache / "layers" / stage.key()
    cached = _layer_from_cache(out_dir, stage.created_by())
    if cached is not None:
        return cached
    parents = [build_stage(s, cache) for s in stage.chain()[:-1]]
    log.info("building layer %s (%s)", stage.name, stage.key())
    work = Path(tempfile.mkdtemp(prefix="berth-image-build-", dir=SCRATCH))
    try:
        created_by = stage.created_by()
        versions: dict[str, str] = {}
        if stage.parent is None:
            root = _debootstrap(stage.debian_suite, work)
        else:
            root, resolved, versions = _apt_layer(stage, parents, work)
            installed = [
                f"{name}={versions[name]}" if name in versions else name
                for name in resolved.split()
            ]
            source = f" (from {stage.debian_suite}-security)" if stage.security else ""
            created_by = "apt-get install --no-install-recommends " + " ".join(installed) + source
        _overlay_to_oci_whiteouts(root)
        return pack_layer(root, out_dir, work, created_by, versions)
    finally:
        unmount_all(work)  # only if a step died between mount and umount
        shutil.rmtree(work, ignore_errors=True)


def build_files(stage: FilesStage, cache: Path = CACHE) -> Layer:
    """A files stage's layer from the cache, building it on a miss."""
    out_dir = cache / "layers" / stage.key()
    cached = _layer_from_cache(out_dir, stage.description)
    if cached is not None:
        return cached
    log.info("building layer %s (%s)", stage.name, stage.key())
    work = Path(tempfile.mkdtemp(prefix="berth-image-build-", dir=SCRATCH))
    try:
        root = work / "root"
        root.mkdir(mode=0o755)
        for spec in stage.files:
            target = root / spec.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if spec.content is None:
                target.mkdir(exist_ok=True)
            else:
                target.write_bytes(spec.content)
            target.chmod(spec.mode)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                os.chown(Path(dirpath) / name, 0, 0, follow_symlinks=False)
                os.utime(Path(dirpath) / name, (FIXED_MTIME, FIXED_MTIME))
            Path(dirpath).chmod(Path(dirpath).stat().st_mode | 0o755)
        for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
            os.utime(dirpath, (FIXED_MTIME, FIXED_MTIME))  # after its children were touched
        return pack_layer(root, out_dir, work, stage.description)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- images


def build_image(recipe: ImageRecipe, cache: Path = CACHE) -> BuiltImage:
    """The image's OCI layout from the cache, building missing layers first."""
    layers = [build_stage(stage, cache) for stage in recipe.top.chain()]
    layers += [build_files(stage, cache) for stage in recipe.files]
    layout = cache / "images" / recipe.key()
    if not (layout / "index.json").exists():
        layout.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{layout.name}.tmp-", dir=layout.parent))
        writer = LayoutWriter(tmp)
        writer.add_image(recipe.tag, layers, cmd=list(recipe.cmd), extra=dict(recipe.config))
        writer.close()
        _commit(tmp, layout)
    return BuiltImage(recipe, layout, tuple(layers))


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


def push_image(built: BuiltImage, host: str, tag: str | None = None) -> str:
    """Push a built image (as `tag`, default its own); return the reference clients pull."""
    reference = f"{host}/{built.recipe.repository}:{tag or built.recipe.tag}"
    push(built.layout, built.recipe.tag, reference)
    return reference
