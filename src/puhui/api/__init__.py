"""The HTTP API (FastAPI), one module per domain; ``create_app(settings)`` builds the app."""

from puhui.api.app import create_app

__all__ = ["create_app"]
