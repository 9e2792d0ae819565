"""Framecast: stream a folder of images, or the screen, to TV browsers. Run with --help."""

import sys

from framecast.service.cli import main

if __name__ == "__main__":
    sys.exit(main())
