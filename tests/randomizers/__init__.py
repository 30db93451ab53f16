"""Tests for `randomizers`."""
