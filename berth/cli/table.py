"""The lazy command table: command words -> (module, summary), as pip does it.

Only the chosen command's module is imported, so `berth ps` does not pay for `pull`.
"""

from __future__ import annotations


class Command:
    """A command's module and summary (a plain class: dataclasses cost start-up time)."""

    __slots__ = ("module", "prestarts_copier", "prestarts_monitor", "starts_container", "summary")

    def __init__(
        self,
        module: str,
        summary: str,
        starts_container: bool = False,
        prestarts_monitor: bool = False,
        prestarts_copier: bool = False,
    ) -> None:
        self.module = module
        self.summary = summary
        self.starts_container = starts_container  # failures exit 125, as Docker's run does
        self.prestarts_monitor = prestarts_monitor  # it (usually) starts a container
        self.prestarts_copier = prestarts_copier  # it may copy files: `build`'s copy server


COMMANDS: dict[str, Command] = {
    "pull": Command("pull", "Download an image from a registry"),
    "push": Command("push", "Upload an image to a registry"),
    "images": Command("images", "List images"),
    "history": Command("history", "Show the history of an image"),
    "tag": Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": Command("rmi", "Remove one or more images"),
    "login": Command("login", "Log in to a registry"),
    "logout": Command("logout", "Log out from a registry"),
    "inspect": Command("inspect", "Return low-level information on berth objects"),
    "run": Command("run", "Create and run a new container from an image", True, True),
    "create": Command("create", "Create a new container", True),
    "start": Command("start", "Start one or more stopped containers", True, True),
    "stop": Command("stop", "Stop one or more running containers"),
    "restart": Command("restart", "Restart one or more containers", False, True),
    "kill": Command("kill", "Kill one or more running containers"),
    "rm": Command("rm", "Remove one or more containers"),
    "ps": Command("ps", "List containers"),
    "logs": Command("logs", "Fetch the logs of a container"),
    "wait": Command("wait", "Block until containers stop, then print their exit codes"),
    "exec": Command("exec", "Execute a command in a running container"),
    "attach": Command("attach", "Attach local standard input, output, and error streams"),
    "rename": Command("rename", "Rename a container"),
    "pause": Command("pause", "Pause all processes within one or more containers"),
    "unpause": Command("unpause", "Unpause all processes within one or more containers"),
    "diff": Command("diff", "Inspect changes to files or directories on a container's filesystem"),
    "cp": Command("cp", "Copy files/folders between a container and the local filesystem"),
    "export": Command("export", "Export a container's filesystem as a tar archive"),
    "save": Command(
        "save", "Save one or more images to a tar archive (streamed to STDOUT by default)"
    ),
    "load": Command("load", "Load an image from a tar archive or STDIN"),
    "import": Command(
        "import_image", "Import the contents from a tarball to create a filesystem image"
    ),
    "commit": Command("commit", "Create a new image from a container's changes"),
    "build": Command("build", "Build an image from a Dockerfile", prestarts_copier=True),
    "events": Command("events", "Get real time events from the server"),
    "info": Command("info", "Display system-wide information"),
    "version": Command("version", "Show the berth version information"),
    "serve": Command(
        "serve", "Serve the Docker Engine API (docker, docker-py, compose drive berth)"
    ),
    "top": Command("top", "Display the running processes of a container"),
    "stats": Command("stats", "Display a live stream of container(s) resource usage statistics"),
    "update": Command("update", "Update configuration of one or more containers"),
    "port": Command("port", "List port mappings or a specific mapping for the container"),
}

GROUPS: dict[str, dict[str, Command]] = {
    "image": {
        "pull": COMMANDS["pull"],
        "push": COMMANDS["push"],
        "ls": COMMANDS["images"],
        "list": COMMANDS["images"],
        "history": COMMANDS["history"],
        "tag": COMMANDS["tag"],
        "rm": COMMANDS["rmi"],
        "inspect": Command("image_inspect", "Display detailed information on one or more images"),
        "prune": Command("image_prune", "Remove unused images"),
        "build": COMMANDS["build"],
        "import": COMMANDS["import"],
        "save": COMMANDS["save"],
        "load": COMMANDS["load"],
    },
    "builder": {
        "prune": Command("builder_prune", "Remove build cache"),
        "build": COMMANDS["build"],
    },
    "system": {
        "df": Command("system_df", "Show berth disk usage"),
        "check": Command("system_check", "Check the store for damage, and repair it"),
        "prune": Command("system_prune", "Remove unused data"),
        "service": Command("serve", "Serve the Docker Engine API"),
        "events": COMMANDS["events"],
        "info": COMMANDS["info"],
    },
    "container": {
        "run": COMMANDS["run"],
        "create": COMMANDS["create"],
        "start": COMMANDS["start"],
        "stop": COMMANDS["stop"],
        "restart": COMMANDS["restart"],
        "kill": COMMANDS["kill"],
        "rm": COMMANDS["rm"],
        "ls": COMMANDS["ps"],
        "list": COMMANDS["ps"],
        "ps": COMMANDS["ps"],
        "logs": COMMANDS["logs"],
        "wait": COMMANDS["wait"],
        "exec": COMMANDS["exec"],
        "attach": COMMANDS["attach"],
        "rename": COMMANDS["rename"],
        "pause": COMMANDS["pause"],
        "unpause": COMMANDS["unpause"],
        "inspect": Command("container_inspect", "Display detailed information on containers"),
        "prune": Command("container_prune", "Remove all stopped containers"),
        "diff": COMMANDS["diff"],
        "cp": COMMANDS["cp"],
        "export": COMMANDS["export"],
        "commit": COMMANDS["commit"],
        "top": COMMANDS["top"],
        "stats": COMMANDS["stats"],
        "update": COMMANDS["update"],
        "port": COMMANDS["port"],
        "cleanup": Command("container_cleanup", "Release what stopped containers hold"),
    },
    "network": {
        "create": Command("network_create", "Create a network"),
        "ls": Command("network_ls", "List networks"),
        "list": Command("network_ls", "List networks"),
        "inspect": Command("network_inspect", "Display detailed information on networks"),
        "rm": Command("network_rm", "Remove one or more networks"),
        "remove": Command("network_rm", "Remove one or more networks"),
        "prune": Command("network_prune", "Remove all unused networks"),
        "connect": Command("network_connect", "Connect a container to a network"),
        "disconnect": Command("network_disconnect", "Disconnect a container from a network"),
    },
    "volume": {
        "create": Command("volume_create", "Create a volume"),
        "ls": Command("volume_ls", "List volumes"),
        "list": Command("volume_ls", "List volumes"),
        "inspect": Command("volume_inspect", "Display detailed information on one or more volumes"),
        "rm": Command("volume_rm", "Remove one or more volumes"),
        "remove": Command("volume_rm", "Remove one or more volumes"),
        "prune": Command("volume_prune", "Remove unused local volumes"),
    },
}

GROUP_SUMMARIES = {
    "container": "Manage containers",
    "builder": "Manage builds",
    "image": "Manage images",
    "network": "Manage networks",
    "system": "Manage berth",
    "volume": "Manage volumes",
}
