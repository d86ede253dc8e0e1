"""Pose-transfer toolkit."""
