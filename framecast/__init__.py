"""Framecast: a folder of images, or a live screen, as one MJPEG stream for TV browsers."""
