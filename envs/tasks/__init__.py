"""Tasks: what the robot must do (objects, goal, reward, success, event conditions)."""

from envs.tasks.base import Task

__all__ = ["Task"]
