#!/usr/bin/env python3
"""Writes the sample gallery (static/samples/): the photos and style images a visitor can try
with one click, small JPEGs, and static/samples/samples.json, which lists each with its source
and licence (the app shows it under "Credits"; tests/native.rs checks it against the folder).

Run on purpose, not by the tests; the outputs are committed. Needs Pillow and numpy and the
scikit-image wheel, whose `skimage/data` folder ships the photos (each loader's docstring in
`skimage/data/_fetchers.py` states the licence quoted below):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pillow==11.3.0 numpy
    pip download --no-deps scikit-image==0.26.0 -d /tmp/wheels
    /tmp/venv/bin/python scripts/make-samples.py /tmp/wheels/scikit_image-0.26.0-*.whl

The "swirls" style image is drawn here, from a fixed seed (this project's own, CC0); the
app's icons (static/icons/, for the web app manifest) are cut from it.
"""

import io
import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "static" / "samples"
LONG_SIDE = 512

SKIMAGE = "scikit-image 0.26.0 (skimage/data), https://scikit-image.org"
# (file in skimage/data, our file, title, kind, author and source, licence)
FROM_SKIMAGE = [
    ("chelsea.png", "cat.jpg", "Chelsea the cat", "content", "Stefan van der Walt, via " + SKIMAGE, "CC0 1.0"),
    ("coffee.png", "coffee.jpg", "A cup of coffee", "content", "Rachel Michetti, courtesy of Pikolo Espresso Bar, via " + SKIMAGE, "CC0 1.0"),
    ("astronaut.png", "astronaut.jpg", "Eileen Collins, astronaut", "content", "NASA (https://flic.kr/p/r9qvLn), via " + SKIMAGE, "Public domain"),
    ("rocket.jpg", "rocket.jpg", "Falcon 9 launching DSCOVR", "content", "SpaceX (https://www.flickr.com/photos/spacexphotos/16511594820/), via " + SKIMAGE, "Public domain"),
    ("hubble_deep_field.jpg", "hubble.jpg", "Hubble eXtreme Deep Field", "style", "NASA (http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/), via " + SKIMAGE, "Public domain"),
    ("gravel.png", "gravel.jpg", "Gravel texture", "style", "CC0Textures (https://cc0textures.com/view.php?tex=Gravel04), via " + SKIMAGE, "CC0 1.0"),
]


def fit(img: Image.Image) -> Image.Image:
    """Scales the longer side to LONG_SIDE (never up), keeping the aspect ratio."""
    img = img.convert("RGB")
    scale = LONG_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    return img


def swirls(width=512, height=384, seed=7) -> Image.Image:
    """Short strokes along a field of eddies, in night blues and lamp yellows."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (18, 32, 74))
    draw = ImageDraw.Draw(img)
    eddies = [(rng.uniform(0, width), rng.uniform(0, height * 0.6), rng.uniform(40, 120), rng.choice([-1, 1])) for _ in range(6)]
    palette = [(30, 60, 140), (52, 92, 170), (90, 140, 200), (200, 210, 150), (240, 200, 60), (20, 40, 90)]

    def flow(x, y):
        dx, dy = 1.0, 0.15 * math.sin(x / 37.0)
        for cx, cy, r, spin in eddies:
            ox, oy = x - cx, y - cy
            w = math.exp(-(ox * ox + oy * oy) / (2 * r * r))
            dx, dy = dx + spin * -oy / r * 3 * w, dy + spin * ox / r * 3 * w
        n = math.hypot(dx, dy) or 1.0
        return dx / n, dy / n

    for _ in range(9000):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        near = min(math.hypot(x - cx, y - cy) / r for cx, cy, r, _ in eddies)
        colour = palette[int(rng.integers(3, 5))] if near < 0.35 else palette[int(rng.integers(0, 3))]
        if y > height * 0.72:
            colour = palette[5]
        points = [(x, y)]
        for _ in range(8):
            dx, dy = flow(x, y)
            x, y = x + 3 * dx, y + 3 * dy
            points.append((x, y))
        draw.line(points, fill=colour, width=int(rng.integers(2, 5)))
    return img.filter(ImageFilter.SMOOTH)


def icons(swirls_file: Path, out: Path) -> None:
    """The manifest's icons: a square of the swirls, 192 and 512 px, in 48 colours (small)."""
    out.mkdir(parents=True, exist_ok=True)
    img = Image.open(swirls_file).convert("RGB")
    side = min(img.size)
    left = (img.width - side) // 2 + 60
    square = img.crop((left, (img.height - side) // 2, left + side, (img.height - side) // 2 + side))
    for n in (192, 512):
        square.resize((n, n), Image.LANCZOS).quantize(48).save(out / f"icon-{n}.png", optimize=True)


def main(wheel: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    listed = []
    with zipfile.ZipFile(wheel) as z:
        for src, dst, title, kind, source, licence in FROM_SKIMAGE:
            img = fit(Image.open(io.BytesIO(z.read(f"skimage/data/{src}"))))
            img.save(OUT / dst, quality=85, optimize=True)
            listed.append({"file": dst, "title": title, "kind": kind, "source": source, "licence": licence})
    swirls().save(OUT / "swirls.jpg", quality=85, optimize=True)
    listed.append({"file": "swirls.jpg", "title": "Swirls (a drawn night sky)", "kind": "style",
                   "source": "Drawn by scripts/make-samples.py in this repository", "licence": "CC0 1.0"})
    icons(OUT / "swirls.jpg", OUT.parent / "icons")
    (OUT / "samples.json").write_text(json.dumps({"samples": listed}, indent=2) + "\n")
    total = sum((OUT / s["file"]).stat().st_size for s in listed)
    print(f"{len(listed)} samples, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
