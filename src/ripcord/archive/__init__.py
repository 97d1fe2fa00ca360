"""Files <-> trees: scan, chunk, save, restore."""
