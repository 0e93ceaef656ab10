"""A small Django shop wired to OpenPanel through openpanel-django (see README.md)."""
