"""The 3-2-1 plan: the plan file, `run` and `status`."""
