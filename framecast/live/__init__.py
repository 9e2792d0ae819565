"""Cameras and network streams as a channel's source: one decode per address (`feed.py`), fitted
and encoded for each channel (`source.py`)."""
