"""ripcord: encrypted, deduplicated, versioned backups."""

__version__ = "0.1.0"
