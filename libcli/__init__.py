"""libcli: library cards, loans, renewals, holds and fees from the command line."""

__version__ = "0.1.0"
