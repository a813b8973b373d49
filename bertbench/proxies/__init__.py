"""bertbench.proxies."""
