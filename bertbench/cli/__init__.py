"""The ``bertbench`` command line: ``main`` holds the app and its top-level commands; ``proxies``, ``reliability``,
``search`` and ``space`` their command groups; ``common`` what they share."""

from bertbench.cli.main import app, main

__all__ = ["app", "main"]
