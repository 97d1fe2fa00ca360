"""Snapshots as a read-only FUSE folder."""
