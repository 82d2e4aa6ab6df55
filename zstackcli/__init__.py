"""zstack-cli: the shell. It parses, completes and prints; the backend does the work."""

__version__ = "0.1.0"
