"""A folder of slides: which files are shown, in what order and when, prepared ahead."""
