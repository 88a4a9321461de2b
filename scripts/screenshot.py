"""Screenshot app pages in headless Debian Chromium (to look at what a visitor sees).

    python scripts/screenshot.py http://localhost:8501/gradient-flow out.png [--height 3000]
"""

import argparse
import time

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=3000, help="the viewport: Streamlit scrolls inside it")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = b.new_page(viewport={"width": a.width, "height": a.height})
        page.goto(a.url)
        page.wait_for_selector("[data-testid=stApp]")
        t0 = time.time()
        time.sleep(1.5)
        while page.locator("[data-testid=stStatusWidget], [data-testid=stSpinner]").count() and time.time() - t0 < a.timeout:
            time.sleep(0.5)
        time.sleep(1.5)
        page.screenshot(path=a.out)
        print(page.url, f"{time.time() - t0:.1f}s")
        b.close()


if __name__ == "__main__":
    main()
