"""Tests for `agents`."""
