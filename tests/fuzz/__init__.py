"""A seeded, bounded fuzz harness over PDF, OFD, seal blobs and protocol frames (see run.py)."""
