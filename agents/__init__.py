"""Agents: scripted experts, rollouts, and (later) learned policies and models."""

from agents.policies.experts import EXPERTS, Expert, make_expert

__all__ = ["EXPERTS", "Expert", "make_expert"]
