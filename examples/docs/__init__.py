"""Small runnable files the documentation site includes (``docs/``); ``tests/test_docs.py`` runs them."""
