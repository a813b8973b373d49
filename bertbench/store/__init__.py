"""bertbench.store."""
