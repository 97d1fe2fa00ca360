"""Keys, encryption, packs, index, trees, snapshots, locks: blobs, never files."""

from ripcord.repository.config import ChunkerParams, Config
from ripcord.repository.keys import KdfParams, MasterSecrets
from ripcord.repository.pack import DATA, TREE
from ripcord.repository.repository import Repository, read_config, unlock
from ripcord.repository.snapshots import Snapshot, chain_heads, parse_time, resolve

__all__ = [
    "DATA",
    "TREE",
    "ChunkerParams",
    "Config",
    "KdfParams",
    "MasterSecrets",
    "Repository",
    "Snapshot",
    "chain_heads",
    "parse_time",
    "read_config",
    "resolve",
    "unlock",
]
