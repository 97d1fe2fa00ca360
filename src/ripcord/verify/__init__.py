"""Verification: check the repository's structure, read data back, run restore drills."""
