"""Pose-transfer toolkit: render a chosen person in any sequence of poses."""

__version__ = "0.1.0"
