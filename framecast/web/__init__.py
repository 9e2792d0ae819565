"""The HTTP face of Framecast: `create_app` builds the Flask app over a directory of channels."""

from .app import Channels, create_app

__all__ = ["Channels", "create_app"]
