"""The walkthrough's images: `debian` and `postgres`, from Debian's own packages.

They share layers the way Docker Hub's do, which is what the walkthrough shows:

    debian:bookworm, debian:12      [bookworm]
    postgres:15.N                   [bookworm] [postgresql-15 from bookworm]           [entrypoint]
    postgres:15.M, 15, latest       [bookworm] [postgresql-15 from bookworm-security]  [entrypoint]
    debian:bullseye, debian:11      [bullseye]
    postgres:13.K, 13               [bullseye] [postgresql-13 from bullseye-security]  [entrypoint]

The two 15.x images are two point releases (the main suite's and the newer one of the security
suite); Debian has no 14, so the other major version is bullseye's 13. Their tags are the
versions actually installed, read back from dpkg, so they are true whatever the mirror has today.
The entrypoint layer is one blob in all three postgres images (a files layer: independent of
its base). Each postgres image is configured like the official one: `docker-entrypoint.sh`
(POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, initdb into PGDATA on first start), `postgres`
as pid 1 run as uid 999, listening on 0.0.0.0:5432, EXPOSE 5432/tcp, STOPSIGNAL SIGINT (a fast
shutdown), PATH with /usr/lib/postgresql/NN/bin, PG_MAJOR and PG_VERSION.

`python -m imagebuild.walkthrough` builds them (cached under .cache/images) and prints their
layers; `--push HOST:PORT` pushes them under `library/...`, the paths a docker.io mirror serves.
Must not import `berth`.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from imagebuild.debian import (
    CACHE,
    BuiltImage,
    FileSpec,
    FilesStage,
    ImageRecipe,
    Stage,
    build_image,
    build_stage,
    push_image,
)

ENTRYPOINT_SOURCE = Path(__file__).with_name("postgres-entrypoint.sh")
ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"
PGDATA = "/var/lib/postgresql/data"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BOOKWORM = Stage("base", None, suite="bookworm")  # the benchmark's base too (same key)
BULLSEYE = Stage("base", None, suite="bullseye")

# As the official image: a postgres user with a fixed uid before the packages pick one.
BEFORE_POSTGRES = """
groupadd -r postgres --gid=999
useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
mkdir -p /var/lib/postgresql
chown -R postgres:postgres /var/lib/postgresql
"""


def _after_postgres(major: str) -> str:
    """Listen on every address by default; the socket and PGDATA directories in place."""
    sample = f"/usr/share/postgresql/{major}/postgresql.conf.sample"
    return f"""
sed -ri "s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!" {sample}
grep -F "listen_addresses = '*'" {sample}
mkdir -p /var/run/postgresql
chown -R postgres:postgres /var/run/postgresql
chmod 3777 /var/run/postgresql
mkdir -p {PGDATA}
chown -R postgres:postgres {PGDATA}
chmod 1777 {PGDATA}
"""


def _postgres_stage(name: str, base: Stage, major: str, *, security: bool) -> Stage:
    package = f"postgresql-{major}"
    return Stage(
        name,
        base,
        (package,),
        security=security,
        before=BEFORE_POSTGRES,
        after=_after_postgres(major),
        record=(package,),
    )


PG15_MAIN = _postgres_stage("postgresql-15", BOOKWORM, "15", security=False)
PG15_SECURITY = _postgres_stage("postgresql-15-security", BOOKWORM, "15", security=True)
PG13 = _postgres_stage("postgresql-13", BULLSEYE, "13", security=True)

ENTRYPOINT_LAYER = FilesStage(
    "postgres-entrypoint",
    (
        FileSpec(ENTRYPOINT.lstrip("/"), ENTRYPOINT_SOURCE.read_bytes(), 0o755),
        FileSpec("docker-entrypoint-initdb.d", None, 0o755),
    ),
    f"COPY docker-entrypoint.sh {ENTRYPOINT}; mkdir /docker-entrypoint-initdb.d",
)


@dataclass(frozen=True, slots=True)
class WalkthroughImage:
    """A built image and every tag it is published under (the first is its own)."""

    built: BuiltImage
    tags: tuple[str, ...]
    version: str  # postgres: the upstream version ("15.18"); debian: the suite

    @property
    def repository(self) -> str:
        """The name users type: `postgres`, not `library/postgres`."""
        return self.built.recipe.repository.removeprefix("library/")

    @property
    def names(self) -> list[str]:
        return [f"{self.repository}:{tag}" for tag in self.tags]


def upstream_version(debian_version: str) -> str:
    """`15.18-0+deb12u1` -> `15.18` (what the official image's tags say)."""
    return debian_version.split("-", 1)[0].split(":", 1)[-1]


def _postgres(stage: Stage, major: str, cache: Path) -> tuple[ImageRecipe, str]:
    layer = build_stage(stage, cache)
    debian_version = dict(layer.versions)[f"postgresql-{major}"]
    version = upstream_version(debian_version)
    recipe = ImageRecipe(
        "library/postgres",
        version,
        stage,
        cmd=("postgres",),
        files=(ENTRYPOINT_LAYER,),
        config={
            "Entrypoint": [ENTRYPOINT],
            "Env": [
                f"PATH={DEFAULT_PATH}:/usr/lib/postgresql/{major}/bin",
                "LANG=C.UTF-8",
                f"PG_MAJOR={major}",
                f"PG_VERSION={debian_version}",
                f"PGDATA={PGDATA}",
            ],
            "ExposedPorts": {"5432/tcp": {}},
            "StopSignal": "SIGINT",
        },
    )
    return recipe, version


@dataclass(frozen=True, slots=True)
class WalkthroughImages:
    """The walkthrough's images by role; `all` in the order they are listed and pushed."""

    bookworm: WalkthroughImage
    bullseye: WalkthroughImage
    pg15_older: WalkthroughImage  # bookworm's main suite
    pg15: WalkthroughImage  # bookworm-security's newer point release: postgres:15, latest
    pg13: WalkthroughImage

    @property
    def all(self) -> list[WalkthroughImage]:
        return [self.bookworm, self.bullseye, self.pg15_older, self.pg15, self.pg13]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def build_all(cache: Path = CACHE) -> WalkthroughImages:
    """Every walkthrough image, built (or taken from the cache)."""
    bookworm = build_image(ImageRecipe("library/debian", "bookworm", BOOKWORM), cache)
    bullseye = build_image(ImageRecipe("library/debian", "bullseye", BULLSEYE), cache)
    main, main_version = _postgres(PG15_MAIN, "15", cache)
    security, security_version = _postgres(PG15_SECURITY, "15", cache)
    if _version_key(security_version) <= _version_key(main_version):
        raise RuntimeError(
            f"bookworm has postgresql-15 {main_version} and bookworm-security {security_version}:"
            " the walkthrough needs a newer point release in the security suite"
        )
    pg13, pg13_version = _postgres(PG13, "13", cache)
    return WalkthroughImages(
        bookworm=WalkthroughImage(bookworm, ("bookworm", "12"), "bookworm"),
        bullseye=WalkthroughImage(bullseye, ("bullseye", "11"), "bullseye"),
        pg15_older=WalkthroughImage(build_image(main, cache), (main_version,), main_version),
        pg15=WalkthroughImage(
            build_image(security, cache), (security_version, "15", "latest"), security_version
        ),
        pg13=WalkthroughImage(build_image(pg13, cache), (pg13_version, "13"), pg13_version),
    )


def push_all(images: WalkthroughImages, host: str) -> list[str]:
    """Push every image under every tag to `host`; return the references pushed."""
    pushed = []
    for image in images.all:
        for tag in image.tags:
            pushed.append(push_image(image.built, host, tag))
    return pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagebuild.walkthrough", description=__doc__)
    parser.add_argument("--push", metavar="HOST:PORT", help="push the images to this registry")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    images = build_all()
    for image in images.all:
        print(json.dumps({"names": image.names, **image.built.summary()}, indent=2))
    if args.push:
        for reference in push_all(images, args.push):
            print("pushed", reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
