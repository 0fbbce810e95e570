"""The volume service on a real store (SQLite file, directories): the anonymous volumes a new
container gets, for `-v /path` and for the image's VOLUMEs, and their removal."""

from __future__ import annotations

from pathlib import Path

from berth.container import volume_mounts
from berth.engine import Engine
from berth.layout import Layout


def test_image_volumes_become_anonymous_volumes_unless_mounted(tmp_path: Path) -> None:
    engine = Engine.open(Layout(tmp_path / "root", tmp_path / "run"))
    try:
        volumes = engine.volume_service
        host_config = {
            "Mounts": [
                {"Type": "bind", "Source": "/srv", "Target": "/already", "ReadOnly": False},
                {"Type": "volume", "Source": "named", "Target": "/named", "ReadOnly": False},
                {"Type": "volume", "Source": "", "Target": "/dash-v", "ReadOnly": False},
            ]
        }
        anonymous = volume_mounts.register(volumes, host_config, ["/already", "/var/lib/data"])
        targets = {m["Target"]: m["Source"] for m in host_config["Mounts"]}
        assert set(targets) == {"/already", "/named", "/dash-v", "/var/lib/data"}
        assert sorted(anonymous) == sorted([targets["/dash-v"], targets["/var/lib/data"]])
        assert all(volumes.get(name).anonymous for name in anonymous)
        assert not volumes.get("named").anonymous
        assert all((volumes.data(name)).is_dir() for name in [*anonymous, "named"])

        volume_mounts.remove_anonymous(volumes, host_config)
        assert [record.name for record in volumes.all()] == ["named"]
    finally:
        engine.close()
