"""reprobuild: make the container environment of an ML run reproducible."""

__version__ = "0.1.0"
