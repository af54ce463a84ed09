"""Sensors of the Sync provider."""
