"""Demo: realistic traffic through the Python client into a local OpenPanel-compatible sink."""
