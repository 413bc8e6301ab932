"""Screenshots of the two HTML pages for the docs: ``make screenshots`` (or ``python docs/screenshots.py``).

Runs the bundled sample in a temporary folder (``visitmix run``), writes the visit-mix page
(``visitmix report``), takes the latest data-quality report (``index.html`` in the reports folder)
and renders each with headless Chromium into ``docs/img/``:

    visit-mix-1280.png   visit-mix-800.png   dq-report-1280.png   dq-report-800.png

Each image is cropped below the page's last content (at most MAX_HEIGHT pixels) and shrunk to a
256-colour palette when it would exceed MAX_BYTES. Re-run it whenever a page changes; it reads the
pages as they are, so a redesigned data-quality report needs nothing here.

Needs Chromium or Chrome (``--chromium PATH``, else $CHROMIUM, else chromium, chromium-browser,
google-chrome or google-chrome-stable on PATH, else a Chrome for Testing or Playwright download
under ~/.cache) and Pillow (``pip install -e '.[docs]'``). Nothing is downloaded. The test suite
does not use this script.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_HEIGHT = 2600  # px; the pages' first screens are what a reader needs
MAX_BYTES = 400_000
SHOTS = (  # (page, file name, width)
    ("visit-mix", "visit-mix-1280.png", 1280),
    ("visit-mix", "visit-mix-800.png", 800),
    ("dq-report", "dq-report-1280.png", 1280),
    ("dq-report", "dq-report-800.png", 800),
)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CACHED = (  # Chrome for Testing (puppeteer, @puppeteer/browsers) and Playwright's downloads
    "~/.cache/puppeteer/chrome/*/chrome-linux64/chrome",
    "~/.cache/chrome-for-testing/*/chrome-linux64/chrome",
    "~/.cache/ms-playwright/chromium-*/chrome-linux*/chrome",
    "~/.cache/ms-playwright/chromium_headless_shell-*/chrome-linux*/headless_shell",
)


def find_chromium(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            return candidate
    for name in _BROWSERS:
        if found := shutil.which(name):
            return found
    for pattern in _CACHED:
        if found := sorted(glob.glob(os.path.expanduser(pattern))):
            return found[-1]
    sys.exit("screenshots: no Chromium or Chrome found: install one (apt install chromium) or pass --chromium PATH")


def visitmix(args: list[str], cwd: Path) -> str:
    """Run the visitmix command line of this checkout in `cwd`; its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "visitmix.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"screenshots: visitmix {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def capture(chromium: str, page: Path, width: int, png: Path) -> None:
    """A tall screenshot of `page` at `width` px, then cropped and shrunk (Pillow)."""
    from PIL import Image

    raw = png.with_suffix(".raw.png")
    command = [chromium, "--headless", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
               "--virtual-time-budget=5000", f"--window-size={width},{MAX_HEIGHT + 400}", f"--screenshot={raw}", page.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root (containers, CI)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if not raw.exists():
        sys.exit(f"screenshots: {chromium} wrote no screenshot of {page}:\n{result.stderr[-2000:]}")
    with Image.open(raw) as shot:
        image = shot.convert("RGB")
    raw.unlink()
    image = image.crop((0, 0, width, _content_bottom(image)))
    image.save(png, optimize=True)
    if png.stat().st_size > MAX_BYTES:
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(png, optimize=True)


def _content_bottom(image) -> int:  # noqa: ANN001 - a PIL image
    """The height to keep: 24 px below the last row that differs from the page's bottom row, at most MAX_HEIGHT."""
    from PIL import ImageChops

    width, height = image.size
    background = image.crop((0, height - 1, width, height)).resize((width, height))
    box = ImageChops.difference(image, background).getbbox()
    bottom = box[3] if box else height
    return min(bottom + 24, height, MAX_HEIGHT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder for the PNGs (default docs/img)")
    parser.add_argument("--chromium", help="the Chromium or Chrome binary to use")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    try:
        import PIL  # noqa: F401
    except ImportError:
        sys.exit("screenshots: Pillow is needed to crop the images: pip install -e '.[docs]' (or make screenshots)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="visitmix-screenshots-") as folder:
        work = Path(folder)
        print("screenshots: running the bundled sample (visitmix run) …", file=sys.stderr)
        visitmix(["run"], work)
        pages = {"visit-mix": Path(visitmix(["report"], work).strip())}
        pages["dq-report"] = pages["visit-mix"].parent / "index.html"  # the latest run's data-quality report
        for name, file_name, width in SHOTS:
            png = args.out / file_name
            capture(chromium, pages[name], width, png)
            print(f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}  {png.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
