"""The HTTP interface: JSON API under /api/v1, OpenAPI at /docs, pages at /."""

from api.app import create_app
from api.services import Services

__all__ = ["Services", "create_app"]
