from __future__ import annotations

from pathlib import Path

from support import BLUE, GREEN, RED, centre, close_to, solid

from framecast.render.imaging import RenderSpec
from framecast.slideshow.ordering import Slide
from framecast.slideshow.renderer import SlideRenderer

SPEC = RenderSpec(160, 90, "contain", (0, 0, 0), 80)


def slide(path: Path) -> Slide:
    info = path.stat()
    return Slide(path, path.name, info.st_mtime_ns, info.st_size)


def test_the_cache_is_bounded_by_bytes_and_keys_on_the_file_and_the_settings(
    tmp_path: Path,
) -> None:
    slides = [slide(solid(tmp_path / f"{n}.png", c)) for n, c in enumerate((RED, GREEN, BLUE))]
    one_frame = len(SlideRenderer().render(slides[0], SPEC))
    renderer = SlideRenderer(budget_bytes=one_frame * 2 + one_frame // 2)
    for item in slides:
        renderer.render(item, SPEC)
    assert renderer.renders == 3
    assert close_to(centre(renderer.render(slides[2], SPEC)), BLUE)
    renderer.render(slides[1], SPEC)
    assert renderer.renders == 3, "the two newest are cached"
    renderer.render(slides[0], SPEC)
    assert renderer.renders == 4, "the oldest was evicted to stay within the budget"
    renderer.render(slides[0], RenderSpec(160, 90, "contain", (0, 0, 0), 50))
    assert renderer.renders == 5, "another quality is another render"
    changed = slide(solid(tmp_path / "0.png", BLUE, (64, 64)))
    assert close_to(centre(renderer.render(changed, SPEC)), BLUE)
    assert renderer.renders == 6, "a changed file is rendered again"
