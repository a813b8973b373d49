"""``python -m bertbench.cli``."""

from bertbench.cli.main import main

main()
