"""Draw the offline app's icons (static/icons/): the favicon's white pin on green, at 192 and 512
px, plus a maskable 512 px one whose pin stays inside the safe circle (80 %). Run once; the PNGs
are committed.  .venv/bin/python scripts/make_icons.py"""
from pathlib import Path

from PIL import Image, ImageDraw

GREEN, WHITE = (11, 110, 79), (255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "static" / "icons"


def pin(size: int, scale: float, rounded: bool) -> Image.Image:
    """The pin of favicon.svg (32-unit box), drawn 4x larger and scaled down for smooth edges."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if rounded:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 6 // 32, fill=GREEN)
    else:
        draw.rectangle((0, 0, big, big), fill=GREEN)
    unit = big * scale / 32
    off = big * (1 - scale) / 2

    def p(x, y):
        return off + x * unit, off + y * unit

    # Head: circle of radius 8 at (16, 13); tail: triangle down to (16, 27).
    draw.ellipse((*p(8, 5), *p(24, 21)), fill=WHITE)
    draw.polygon([p(8.6, 16), p(23.4, 16), p(16, 27)], fill=WHITE)
    draw.ellipse((*p(13, 10), *p(19, 16)), fill=GREEN)
    return image.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    pin(192, 1.0, True).save(OUT / "icon-192.png", optimize=True)
    pin(512, 1.0, True).save(OUT / "icon-512.png", optimize=True)
    pin(512, 0.7, False).save(OUT / "icon-maskable-512.png", optimize=True)
    print(f"icons in {OUT}")
