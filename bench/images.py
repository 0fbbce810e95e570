"""The benchmark's Debian images, built once by `imagebuild.debian`, cached by recipe hash.

Why real Debian images: a pull's cost is in many small files, hardlinks, symlinks, modes and
xattrs, which a generated tarball does not reproduce. The recipe:

- `base`: `debootstrap --variant=minbase bookworm`, cleaned like Debian's official image
  (no /dev contents, no host hostname/hosts/resolv.conf, no apt lists or caches).
- `postgresql`: `apt-get install postgresql-15` in a chroot on an overlay of the base; the
  layer is the overlay's upper dir, whiteouts translated to `.wh.` names.
- `many-files`: the kernel's common headers and Go's source tree (real small files, >20k).
- `redis` (the warm pull's image): base + redis-server, so it shares only the base layer.

How layers are built and cached (under `.cache/images/`, shared with the walkthrough's images)
is `imagebuild.debian`'s business. Must not import `berth`.

Run `python -m bench.images` to build (and print the sizes); `--push HOST` to push too.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

from imagebuild.debian import (
    BUILDER_VERSION,
    CACHE,
    LINUX_HEADERS,
    SCRATCH,
    BuiltImage,
    ImageRecipe,
    Stage,
    build_image,
    pack_layer,
    push,
    push_image,
)
from imagebuild.oci import LayoutWriter

__all__ = ["COLD_IMAGE", "WARM_IMAGE", "BuiltImage", "build_image", "push_image"]

log = logging.getLogger("bench.images")

BASE = Stage("base", None)
POSTGRESQL = Stage("postgresql", BASE, ("postgresql-15",))
MANY_FILES = Stage("many-files", POSTGRESQL, (LINUX_HEADERS, "golang-1.19-src"))
REDIS = Stage("redis", BASE, ("redis-server",))

COLD_IMAGE = ImageRecipe("bench/debian-pg", "1", MANY_FILES)
WARM_IMAGE = ImageRecipe("bench/debian-redis", "1", REDIS)
TINY_REPOSITORY = "bench/tiny"


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
            layer = pack_layer(
                root, Path(tmp) / tag / "layer", Path(tmp) / tag, f"tiny image {tag}"
            )
            writer.add_image(tag, [layer], cmd=["/bin/true"], labels={"bench.tiny": tag})
        writer.close()
    return layout, tags


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
