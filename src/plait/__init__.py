"""plait: run many AI coding agents in parallel on one repository and carry their work to main."""

__version__ = "0.1.0"
