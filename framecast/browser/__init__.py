"""Web pages drawn by a headless Chromium: web slides and the screenshot API."""
