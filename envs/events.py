"""Named events, detected per step as onsets and counted per episode."""

from __future__ import annotations

EVENT_NAMES: tuple[str, ...] = (
    "success",
    "grasp_success",
    "object_dropped",
    "object_off_table",
    "robot_table_collision",
    "timeout",
)


def check_event(event: str) -> None:
    """Reject event names no env emits, listing the known ones."""
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown event {event!r}; the envs emit: {', '.join(EVENT_NAMES)}")


class EventTracker:
    """Turns per-step conditions into events: an event fires on the step its condition
    becomes true (an onset), so a collision lasting ten steps counts once."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._active: dict[str, bool] = {}
        self._held = False

    def reset(self) -> None:
        """Start a new episode."""
        self.counts = {name: 0 for name in EVENT_NAMES}
        self._active = {}
        self._held = False

    def update(self, conditions: dict[str, bool]) -> list[str]:
        """Record this step's conditions; return the events that fired.

        ``conditions`` may hold ``success``, ``held`` (object grasped and lifted),
        ``grasped`` (both fingers touch the object), ``object_off_table`` and
        ``robot_table_collision``.
        """
        events: list[str] = []
        for name in ("success", "object_off_table", "robot_table_collision"):
            now = conditions.get(name, False)
            if now and not self._active.get(name, False):
                events.append(name)
            self._active[name] = now
        held = conditions.get("held", False)
        if held and not self._held:
            events.append("grasp_success")
        elif self._held and not conditions.get("grasped", False):
            events.append("object_dropped")
        self._held = held if held else (self._held and conditions.get("grasped", False))
        for e in events:
            self.counts[e] += 1
        return events

    def fire(self, name: str) -> None:
        """Count an event decided outside ``update`` (``timeout``)."""
        self.counts[name] += 1
