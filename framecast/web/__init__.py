"""The HTTP face of Framecast: `create_app` builds the Flask app over a directory of channels."""

from .app import create_app
from .context import AdminParts, Channels

__all__ = ["AdminParts", "Channels", "create_app"]
