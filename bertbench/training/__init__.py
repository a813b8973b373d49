"""bertbench.training."""
