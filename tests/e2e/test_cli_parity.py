"""The CLI's hygiene, as Docker's CLI behaves: long flags are never matched by a prefix (a
mistyped `--priv` must not run a privileged container), unknown flags and commands are named
in Docker's words with its exit codes, exec's exit codes, `ps --filter name=` as a regular
expression, the NETWORKS column, `images --digests`, a pull by digest of a present image,
`system prune`, and the prune filters. Each case was checked against docker 28.2 and 20.10."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.api import ApiServer
from tests.fixtures.images import Catalogue
from tests.fixtures.store import Berth, berth_executable


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI where no store is needed: a usage error is refused before one is opened."""
    root = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]
    return subprocess.run(
        [str(berth_executable()), *root, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["run", "--priv", "busybox"], "unknown flag: --priv\nSee 'berth run --help'.\n"),
        (["run", "--priv=true", "busybox"], "unknown flag: --priv\nSee 'berth run --help'.\n"),
        (["run", "--pids", "5", "busybox"], "unknown flag: --pids\nSee 'berth run --help'.\n"),
        (["create", "--priv"], "unknown flag: --priv\nSee 'berth create --help'.\n"),
        (["ps", "--no-tr"], "unknown flag: --no-tr\nSee 'berth ps --help'.\n"),
        (
            ["container", "ls", "--al"],
            "unknown flag: --al\nSee 'berth container ls --help'.\n",
        ),
        (
            ["run", "-itZ", "busybox"],
            "unknown shorthand flag: 'Z' in -Z\nSee 'berth run --help'.\n",
        ),
        (["--frob", "ps"], "unknown flag: --frob\nSee 'berth --help'.\n"),
        (["image", "--frob"], "unknown flag: --frob\nSee 'berth image --help'.\n"),
        (
            ["exec", "c"],
            "\"berth exec\" requires at least 2 arguments.\nSee 'berth exec --help'.\n",
        ),
    ],
)
def test_unknown_and_abbreviated_flags_are_refused(
    tmp_path: Path, args: list[str], stderr: str
) -> None:
    result = _cli(tmp_path, *args)
    assert (result.returncode, result.stderr, result.stdout) == (125, stderr, "")


def test_a_mistyped_flag_runs_nothing(berth: Berth, busybox: str) -> None:
    """Before, `--priv` was taken for `--privileged`: now nothing is created at all."""
    refused = berth("run", "--priv", busybox, "true")
    assert refused.returncode == 125 and refused.stderr.startswith("unknown flag: --priv\n")
    assert berth("ps", "-aq").stdout == ""
    # What follows the image is the container's own command, flags and all.
    ran = berth("run", "--rm", busybox, "echo", "--priv", "-Z")
    assert (ran.returncode, ran.stdout) == (0, "--priv -Z\n")


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["frobnicate"], "berth: unknown command: berth frobnicate\n\n"
         "Run 'berth --help' for more information\n"),
        (["image", "frob"], "berth: unknown command: berth image frob\n\nUsage:  berth image\n\n"
         "Run 'berth image --help' for more information\n"),
        (["system", "frob", "-a"], "berth: unknown command: berth system frob\n\n"
         "Usage:  berth system\n\nRun 'berth system --help' for more information\n"),
    ],
)  # fmt: skip
def test_unknown_commands_exit_1_in_dockers_words(
    tmp_path: Path, args: list[str], stderr: str
) -> None:
    result = _cli(tmp_path, *args)
    assert (result.returncode, result.stderr, result.stdout) == (1, stderr, "")


def test_a_group_alone_or_with_help_prints_its_commands(tmp_path: Path) -> None:
    for args in (["system"], ["system", "--help"], ["system", "-h"]):
        result = _cli(tmp_path, *args)
        assert result.returncode == 0 and result.stderr == ""
        assert result.stdout.startswith("Usage:  berth system COMMAND\n")
        assert "  prune      Remove unused data\n" in result.stdout
        assert "  events     Get real time events from the server\n" in result.stdout


def test_exec_exits_1_when_the_engine_refuses(berth: Berth, busybox: str) -> None:
    missing = berth("exec", "nowhere", "true")
    assert missing.returncode == 1 and "No such container: nowhere" in missing.stderr
    assert berth("create", "--name", "idle", busybox, "sleep", "60").returncode == 0
    stopped = berth("exec", "idle", "true")
    assert stopped.returncode == 1 and "is not running" in stopped.stderr
    assert berth("start", "idle").returncode == 0
    assert berth("pause", "idle").returncode == 0
    paused = berth("exec", "idle", "true")
    assert paused.returncode == 1 and "is paused, unpause the container" in paused.stderr
    assert berth("unpause", "idle").returncode == 0
    assert berth("exec", "idle", "sh", "-c", "exit 3").returncode == 3
    assert berth("exec", "idle", "no-such-command").returncode == 127
    assert berth("rm", "-f", "idle").returncode == 0


def test_ps_name_filter_is_a_regular_expression(berth: Berth, busybox: str) -> None:
    for name in ("web", "web2", "db"):
        assert berth("create", "--name", name, busybox, "true").returncode == 0

    def names(*filters: str) -> list[str]:
        args = [word for value in filters for word in ("--filter", f"name={value}")]
        listed = berth("ps", "-a", "--format", "{{.Names}}", *args)
        assert listed.returncode == 0, listed.stderr
        return sorted(listed.stdout.split())

    assert names("web") == ["web", "web2"]
    assert names("^web$") == ["web"]  # the exact-match idiom
    assert names("^/db$") == ["db"]  # Docker matches the name with its slash too
    assert names("^w.b[0-9]$", "^d") == ["db", "web2"]  # values of one key: any
    assert names("[") == []  # not an expression: matches only a name spelled so
    # Volumes' and networks' names are matched the same way.
    for volume in ("data", "metadata"):
        assert berth("volume", "create", volume).returncode == 0
    assert berth("volume", "ls", "-q", "--filter", "name=^data$").stdout == "data\n"
    assert berth("volume", "ls", "-q", "--filter", "name=data").stdout.split() == [
        "data", "metadata",
    ]  # fmt: skip
    assert berth("network", "ls", "--format", "{{.Name}}", "--filter", "name=^b").stdout == (
        "bridge\n"
    )


def test_the_api_lists_and_prunes_as_the_cli(api: ApiServer, berth: Berth, busybox: str) -> None:
    """docker 28 through `berth serve`: the same name filter, NETWORKS and system prune."""
    for name in ("web", "web2"):
        assert berth("create", "--name", name, busybox, "true").returncode == 0
    listed = api.docker(
        "ps", "-a", "--filter", "name=^web$", "--format", "{{.Names}} {{.Networks}}"
    )
    assert (listed.returncode, listed.stdout) == (0, "web bridge\n"), listed.stderr
    assert berth("network", "create", "spare").returncode == 0
    pruned = api.docker("system", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert "Deleted Networks:\nspare\n" in pruned.stdout
    assert pruned.stdout.splitlines()[-1].startswith("Total reclaimed space: ")
    assert berth("ps", "-aq").stdout == ""


def test_networks_column_names_the_networks(berth: Berth, busybox: str) -> None:
    assert berth("network", "create", "backend").returncode == 0
    assert berth("create", "--name", "plain", busybox, "true").returncode == 0
    assert berth("create", "--name", "alone", "--network", "none", busybox, "true").returncode == 0
    assert (
        berth("create", "--name", "user", "--network", "backend", busybox, "true").returncode == 0
    )
    assert berth("create", "--name", "both", busybox, "true").returncode == 0
    assert berth("network", "connect", "backend", "both").returncode == 0
    listed = berth("ps", "-a", "--format", "{{.Names}}={{.Networks}}")
    assert sorted(listed.stdout.split()) == [
        "alone=none", "both=backend,bridge", "plain=bridge", "user=backend",
    ]  # fmt: skip
    table = berth("ps", "-a", "--filter", "name=^plain$", "--format", "table {{.Networks}}")
    assert table.stdout == "NETWORKS\nbridge\n"


def test_images_digests_pair_each_repository_with_its_own(
    registry: Catalogue, berth: Berth
) -> None:
    """Two manifests of one image (gzip in Docker's and OCI's format) in one repository, the
    image tagged in a repository it was never pulled from, and one known only by digest."""
    docker, oci = registry["faithful:docker-gzip"], registry["faithful:oci-gzip"]
    assert docker.config_digest == oci.config_digest != docker.manifest_digest
    for reference in (docker.reference, oci.reference):
        assert berth("pull", "-q", reference).returncode == 0
    assert berth("tag", docker.reference, "local/faithful:mine").returncode == 0
    app = registry["app-a"]
    assert berth("pull", "-q", app.by_digest).returncode == 0

    listed = berth("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
    repository = f"{docker.host}/{docker.repository}"
    assert sorted(listed.stdout.splitlines()) == sorted(
        [
            f"{f'{app.host}/{app.repository}'} <none> {app.manifest_digest}",
            "local/faithful mine <none>",
            *(
                f"{repository} {tag} {digest}"
                for tag in ("docker-gzip", "oci-gzip")
                for digest in (docker.manifest_digest, oci.manifest_digest)
            ),
        ]
    )
    # Without digests, a tag is one row, and a repository known by digest one row.
    plain = berth("images", "--format", "{{.Repository}} {{.Tag}}").stdout.splitlines()
    assert sorted(plain) == sorted(
        [
            f"{app.host}/{app.repository} <none>",
            "local/faithful mine",
            f"{repository} docker-gzip",
            f"{repository} oci-gzip",
        ]
    )


def test_pull_by_digest_of_a_present_image_is_up_to_date(registry: Catalogue, berth: Berth) -> None:
    app = registry["app-a"]
    first = berth("pull", app.by_digest)
    assert first.returncode == 0, first.stderr
    assert f"Status: Downloaded newer image for {app.by_digest}\n" in first.stdout
    again = berth("pull", app.by_digest)
    assert again.returncode == 0, again.stderr
    assert f"Status: Image is up to date for {app.by_digest}\n" in again.stdout
    # A tag's pull records the repository's digest: a pull by that digest is up to date too.
    other = registry["app-b"]
    assert berth("pull", "-q", other.reference).returncode == 0
    by_digest = berth("pull", other.by_digest)
    assert f"Status: Image is up to date for {other.by_digest}\n" in by_digest.stdout


SYSTEM_WARNING = (
    "WARNING! This will remove:\n"
    "  - all stopped containers\n"
    "  - all networks not used by at least one container\n"
    "  - all anonymous volumes not used by at least one container\n"
    "  - all dangling images\n"
    "  - unused build cache\n"
    "\n"
    "  Items to be pruned will be filtered with:\n"
    "  - label!=keep\n"
    "  - until=1s\n"
    "\n"
    "Are you sure you want to continue? [y/N] "
)


def _sections(output: str) -> dict[str, list[str]]:
    """`Deleted X:` sections (each ends with a blank line), then the total."""
    sections: dict[str, list[str]] = {}
    blocks = output.split("\n\n")
    assert blocks[-1].startswith("Total reclaimed space: "), output
    for block in blocks[:-1]:
        title, *lines = block.splitlines()
        sections[title] = lines
    return sections


def test_system_prune(berth: Berth, busybox: str, tmp_path: Path) -> None:
    assert berth("run", "-d", "--name", "busy", busybox, "sleep", "60").returncode == 0
    stopped = berth("create", "--name", "stopped", busybox, "true").stdout.strip()
    assert berth("network", "create", "spare").returncode == 0
    assert berth("volume", "create", "named").returncode == 0
    anonymous = berth("volume", "create").stdout.strip()
    assert berth("commit", "stopped", "made:1").returncode == 0
    dangling = berth("image", "inspect", "-f", "{{.Id}}", "made:1").stdout.strip()
    assert berth("commit", "stopped", "made:1").returncode == 0  # the first one: dangling now
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /x\n")
    assert berth("build", "-q", "-t", "built", str(tmp_path)).returncode == 0
    try:
        asked = berth(
            "system", "prune", "--volumes", "--filter", "until=1s", "--filter", "label!=keep",
            input="n\n",
        )  # fmt: skip
        assert asked.returncode == 1  # until and --volumes: Docker refuses the pair
        assert 'The "until" filter is not supported with "--volumes"' in asked.stderr
        refused = berth("system", "prune", "-f", "--filter", "dangling=true")
        assert refused.returncode == 1 and "invalid filter 'dangling'" in refused.stderr

        # The prompt, its list of what would go, and a no: nothing goes.
        no = berth("system", "prune", "--volumes", "--filter", "label!=keep", input="n\n")
        assert no.returncode == 0
        assert no.stdout == SYSTEM_WARNING.replace("  - until=1s\n", "")

        pruned = berth("system", "prune", "-f")
        assert pruned.returncode == 0, pruned.stderr
        sections = _sections(pruned.stdout)
        assert sections["Deleted Containers:"] == [stopped]
        assert sections["Deleted Networks:"] == ["spare"]
        assert f"deleted: {dangling}" in sections["Deleted Images:"]
        assert sections["Deleted build cache objects:"]  # the RUN step's entry
        assert "Deleted Volumes:" not in sections
        assert sorted(berth("volume", "ls", "-q").stdout.split()) == sorted([anonymous, "named"])
        assert berth("ps", "-a", "--format", "{{.Names}}").stdout == "busy\n"

        volumes = _sections(berth("system", "prune", "-f", "--volumes").stdout)
        assert volumes == {"Deleted Volumes:": [anonymous]}
        assert berth("volume", "ls", "-q").stdout == "named\n"

        every = _sections(berth("system", "prune", "-af").stdout)
        untagged = [line for line in every["Deleted Images:"] if line.startswith("untagged")]
        assert sorted(untagged) == ["untagged: built:latest", "untagged: made:1"]
        images = berth("images", "--format", "{{.Repository}}").stdout.split()
        assert busybox in images  # the running container's image stays
        assert "made" not in images and "built" not in images
        assert berth("system", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    finally:
        assert berth("rm", "-f", "busy").returncode == 0


def test_builder_prune_asks_and_reports(berth: Berth, busybox: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /x\n")
    assert berth("build", "-q", str(tmp_path)).returncode == 0
    no = berth("builder", "prune", input="n\n")
    assert no.stdout == (
        "WARNING! This will remove all dangling build cache. "
        "Are you sure you want to continue? [y/N] "
    )
    kept = berth("builder", "prune", "-f", "--filter", "until=1h")  # used just now: kept
    assert kept.stdout == "Total reclaimed space: 0B\n"
    pruned = berth("builder", "prune", "-af")
    sections = _sections(pruned.stdout)
    assert len(sections["Deleted build cache objects:"]) == 1


def test_volume_and_network_prune_filters(berth: Berth) -> None:
    assert berth("volume", "create", "--label", "tier=db", "data").returncode == 0
    assert berth("volume", "create", "scratch").returncode == 0
    anonymous = berth("volume", "create", "--label", "tier=db").stdout.strip()
    # Without -a (or all=true) only anonymous volumes are candidates, as Docker 23+.
    only = berth("volume", "prune", "-f", "--filter", "label=tier=db")
    assert _sections(only.stdout) == {"Deleted Volumes:": [anonymous]}
    every = berth("volume", "prune", "-f", "--filter", "all=true", "--filter", "label!=tier")
    assert _sections(every.stdout) == {"Deleted Volumes:": ["scratch"]}
    both = berth("volume", "prune", "-f", "-a", "--filter", "all=1")
    assert both.returncode == 1
    assert "conflicting options: cannot specify both --all and --filter all=1" in both.stderr
    assert berth("volume", "prune", "-f", "--filter", "until=1h").returncode == 1
    assert berth("volume", "ls", "-q").stdout == "data\n"
    assert berth("volume", "rm", "data").returncode == 0

    assert berth("network", "create", "--label", "stage=old", "old").returncode == 0
    assert berth("network", "create", "new").returncode == 0
    kept = berth("network", "prune", "-f", "--filter", "until=1h")  # both younger: kept
    assert kept.returncode == 0 and kept.stdout == ""
    labelled = berth("network", "prune", "-f", "--filter", "label=stage=old")
    assert labelled.stdout == "Deleted Networks:\nold\n"
    unlabelled = berth("network", "prune", "-f", "--filter", "label!=stage")
    assert unlabelled.stdout == "Deleted Networks:\nnew\n"
    bogus = berth("network", "prune", "-f", "--filter", "name=x")
    assert bogus.returncode == 1 and "invalid filter 'name'" in bogus.stderr


def test_system_events_is_events(berth: Berth) -> None:
    assert berth("volume", "create", "seen").returncode == 0
    listed = berth("system", "events", "--since", "10m", "--until", "0s", "--format", "{{json .}}")
    assert listed.returncode == 0, listed.stderr
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in events] == [
        ("volume", "create", "seen")
    ]
