"""Mounting a camera on a link: link names of a body read from PyBullet."""

from __future__ import annotations

from typing import Any


def link_indices(client: Any, body: int) -> dict[str, int]:
    """Link name -> link index of a body (its base is -1), read from ``getJointInfo``."""
    names = {client.getBodyInfo(body)[0].decode(): -1}
    for j in range(client.getNumJoints(body)):
        names[client.getJointInfo(body, j)[12].decode()] = j
    return names


def mount_link(client: Any, body: int | None, link: str) -> int:
    """The index of link ``link`` of ``body``; a ValueError listing the body's links."""
    if body is None:
        raise ValueError(
            f"a camera mounted on {link!r} needs the robot body; build it through the env "
            "(gym.make(id, cameras={...})) or pass Camera(..., body=robot_id)"
        )
    links = link_indices(client, body)
    if link not in links:
        raise ValueError(f"unknown mount link {link!r}; the robot's links: {', '.join(links)}")
    return links[link]
