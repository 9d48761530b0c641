"""The Textual app; the engine never imports this package."""
from .app import PgferryApp
from .data import Overview, Source

__all__ = ["PgferryApp", "Overview", "Source"]
