"""bertbench.loaders."""
