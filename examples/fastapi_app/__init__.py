"""A small shop on FastAPI with OpenPanel: pages with the snippet, login, purchases, webhooks.

``python -m examples.fastapi_app --port 8001`` runs it under uvicorn; ``create_app()`` builds it
(for tests and your own server).
"""

from __future__ import annotations

from examples.fastapi_app.app import PRODUCTS, USERS, create_app

__all__ = ["PRODUCTS", "USERS", "create_app"]
