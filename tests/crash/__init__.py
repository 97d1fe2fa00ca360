"""Crash consistency: run a ripcord command in a subprocess, SIGKILL it at a chosen store
call or a seeded moment, and prove what it leaves behind (see harness.py)."""
