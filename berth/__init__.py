"""berth: a daemonless container engine that speaks Docker's language."""

__version__ = "0.1.0"
