"""The app inside an iframe from another site, as on its Hugging Face Space page: an upload works.

A Space page (huggingface.co) embeds the app (*.hf.space) in a cross-site iframe. Browsers send a
SameSite=Lax cookie only to same-site requests, so with Streamlit's default XSRF cookie every
upload inside the iframe fails with 403; the Space's Dockerfile launches the app with
`--server.xsrfCookieSameSite=none` (config.toml keeps "lax", which plain http needs:
tests/e2e/test_e2e_lan.py). Here the parent page is served from 127.0.0.1 and the app
from localhost (two sites). Playwright's default contexts are incognito-like, where Chromium
blocks third-party cookies; a visitor's normal Chrome profile allows them, so the browser here is
a fresh persistent profile with Chrome's default cookie setting (third-party cookies allowed).
The control: a server started with "lax" refuses the same upload with 403 — the test can fail.
"""

import io
import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, OUT, ROOT, _free_port, start_server, stop_server

pytestmark = pytest.mark.e2e


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def parent_site(tmp_path_factory):
    """A page on http://127.0.0.1:PORT that embeds a URL given in its query string."""
    root = tmp_path_factory.mktemp("parent")
    (root / "embed.html").write_text(
        "<html><body><script>const u = new URLSearchParams(location.search).get('src');"
        "document.write('<iframe id=app src=\"' + u + '\" width=1300 height=1000></iframe>');"
        "</script></body></html>")
    port = _free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/embed.html"
    httpd.shutdown()


def _start(script, cwd, same_site=None):
    """The server on every interface (the iframe loads it as localhost, the parent is 127.0.0.1)."""
    args = ("--server.xsrfCookieSameSite", same_site) if same_site else ()
    proc, port = start_server(script, f"iframe-server-{script.stem}.log", cwd=cwd, args=args)
    return proc, f"http://localhost:{port}"


@pytest.fixture(scope="module")
def chrome_profile(playwright, tmp_path_factory):
    prof = tmp_path_factory.mktemp("profile")
    (prof / "Default").mkdir()
    # Chrome's default outside incognito: third-party cookies allowed (cookie_controls_mode 0)
    (prof / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}))
    ctx = playwright.chromium.launch_persistent_context(str(prof), executable_path=CHROMIUM, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1100})
    yield ctx
    ctx.close()


def _upload_in_iframe(ctx, parent_url, app_url, png_path, choose_upload=None):
    ctx.clear_cookies()  # cookies ignore ports: one test's XSRF cookie would serve the other's
    page = ctx.new_page()
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if "/_stcore/upload_file/" in r.url else None)
    page.goto(f"{parent_url}?src={app_url}", timeout=120_000)
    frame = page.frame_locator("#app")
    if choose_upload:
        choose_upload(frame)
    box = frame.locator("input[type=file]")
    box.wait_for(state="attached", timeout=240_000)
    box.set_input_files(str(png_path))
    deadline = time.time() + 60
    while not statuses and time.time() < deadline:
        page.wait_for_timeout(250)
    return page, frame, statuses


def test_an_upload_works_inside_a_cross_site_iframe(parent_site, chrome_profile, tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(_png())
    proc, app = _start(ROOT / "app.py", ROOT, same_site="none")  # as the Space's Dockerfile launches it
    try:
        def choose_upload(frame):
            frame.get_by_text("upload a PNG/JPEG").click(timeout=240_000)

        page, frame, statuses = _upload_in_iframe(chrome_profile, parent_site, f"{app}/attribution", png,
                                                  choose_upload)
        assert statuses and all(s < 300 for s in statuses), statuses
        frame.get_by_text("PNG 40×30 resized to").wait_for(timeout=120_000)
        page.screenshot(path=str(OUT / "iframe_upload.png"))
    finally:
        stop_server(proc)


def test_with_a_lax_cookie_the_same_upload_is_refused(parent_site, chrome_profile, tmp_path):
    """The control: Streamlit's default (lax) fails exactly where the Space needs it to work."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "up.py").write_text("import streamlit as st\nst.file_uploader('file')\n")
    png = tmp_path / "photo.png"
    png.write_bytes(_png())
    proc, app = _start(app_dir / "up.py", app_dir, same_site="lax")
    try:
        _, _, statuses = _upload_in_iframe(chrome_profile, parent_site, app, png)
        assert statuses == [403], statuses
    finally:
        stop_server(proc)
