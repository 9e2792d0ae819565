"""Where frames come from: each source knows nothing of HTTP."""
