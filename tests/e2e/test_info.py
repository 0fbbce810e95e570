"""`berth info` and `berth version`: what `docker info` and `docker version` show."""

from __future__ import annotations

import json
import os

from tests.fixtures.store import Berth


def test_info_counts_the_store_and_names_the_host(berth: Berth, busybox: str) -> None:
    berth("create", "--name", "counted", busybox, "true", check=True)
    info = json.loads(berth("info", "--format", "{{json .}}", check=True).stdout)
    assert (info["Containers"], info["ContainersStopped"], info["Images"]) == (1, 1, 1)
    assert info["NCPU"] == os.cpu_count()
    assert info["DockerRootDir"] == str(berth.store.root)
    text = berth("info", check=True).stdout
    assert " Containers: 1\n" in text and " Storage Driver: overlay2\n" in text
    assert berth("system", "info", "-f", "{{.Images}}", check=True).stdout == "1\n"


def test_version_names_the_api_range(berth: Berth) -> None:
    version = json.loads(berth("version", "--format", "{{json .}}", check=True).stdout)
    assert version["Server"]["ApiVersion"] == "1.47"
    assert version["Server"]["MinAPIVersion"] == "1.24"
    assert "API version:      1.47 (minimum version 1.24)" in berth("version").stdout
