"""Torch policies and the checkpoint contract: scripted experts, SB3, behaviour cloning, the pixel expert."""

from agents.policies import task_experts as _task_experts  # noqa: F401  (PickPlace, Stack in EXPERTS)
