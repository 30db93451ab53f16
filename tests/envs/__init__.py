"""Tests for `envs`."""
