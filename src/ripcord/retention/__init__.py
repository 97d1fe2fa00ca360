"""Retention: which snapshots a schedule keeps (forget) and, later, prune."""

from ripcord.retention.policy import Decision, Policy, decide, group_key

__all__ = ["Decision", "Policy", "decide", "group_key"]
