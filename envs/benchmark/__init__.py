"""Throughput benchmark: randomized rendering, stepping and export against raw PyBullet on the same scene."""
