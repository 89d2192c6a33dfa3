"""Where a server's processes run: protocol.py says what a launcher is; local.py (this machine) and
ray_cluster.py (a node of a Ray cluster) are the launchers; node/ is what travels to cluster nodes."""
