"""Copying snapshots between repositories."""
