"""The lazy command table: command words -> (module, summary), as pip does it.

Only the chosen command's module is imported, so `berth ps` does not pay for `pull`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "pull": Command("pull", "Download an image from a registry"),
    "images": Command("images", "List images"),
    "history": Command("history", "Show the history of an image"),
    "tag": Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": Command("rmi", "Remove one or more images"),
    "login": Command("login", "Log in to a registry"),
    "logout": Command("logout", "Log out from a registry"),
    "inspect": Command("inspect", "Return low-level information on berth objects"),
}

GROUPS: dict[str, dict[str, Command]] = {
    "image": {
        "pull": COMMANDS["pull"],
        "ls": COMMANDS["images"],
        "list": COMMANDS["images"],
        "history": COMMANDS["history"],
        "tag": COMMANDS["tag"],
        "rm": COMMANDS["rmi"],
        "inspect": Command("image_inspect", "Display detailed information on one or more images"),
        "prune": Command("image_prune", "Remove unused images"),
    },
    "system": {
        "df": Command("system_df", "Show berth disk usage"),
    },
}

GROUP_SUMMARIES = {
    "image": "Manage images",
    "system": "Manage berth",
}
