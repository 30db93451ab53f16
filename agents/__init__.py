"""Agents: scripted experts and learned policies, rollouts, training and the models that
read images; experiment drivers in :mod:`agents.experiments`."""
