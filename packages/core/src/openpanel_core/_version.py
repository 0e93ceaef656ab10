"""The one version of the whole suite (Python packages and the npm package share it)."""

__version__ = "0.1.0"
