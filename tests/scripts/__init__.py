"""Tests for `scripts`."""
