"""The version of aibench-plugins; pyproject.toml reads it from here."""

__version__ = "0.1.0"
