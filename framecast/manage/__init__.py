"""Changing a channel's folder from the admin page: uploads, the trash, the order."""
