"""Photo-like test images: smooth colour regions with fine grain, deterministic, no download."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter


def photo(width: int, height: int, seed: int = 1, grain: float = 0.3) -> Image.Image:
    """Large soft colour areas, some hard edges and sensor-like grain, like a real photo."""
    rng = random.Random(seed)
    small = Image.merge(
        "RGB",
        [Image.effect_noise((max(4, width // 64), max(4, height // 64)), 90) for _ in range(3)],
    ).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(small)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 40, width // 8)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    small = small.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise((width, height), 18).convert("RGB")
    return Image.blend(small, noise, grain)


def save_photo(path: Path, width: int, height: int, seed: int = 1, grain: float = 0.3) -> Path:
    image = photo(width, height, seed, grain)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, "JPEG", quality=90)
    else:
        image.save(path)
    return path
