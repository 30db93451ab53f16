"""Torch policies and the checkpoint contract: scripted experts, SB3, behaviour cloning, the pixel expert."""
