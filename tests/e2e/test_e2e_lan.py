"""A workshop on a LAN: the app served over plain http at another machine's address, uploads and all.

Chromium treats http://localhost as a secure context, so tests on localhost cannot see what a
room sees at http://192.168.x.y:8501. Here Chromium resolves the made-up host ``lan.test`` to
127.0.0.1 (``--host-resolver-rules``: no packet leaves this machine), which it treats as any
other insecure, non-localhost origin. The XSRF cookie Streamlit sets with
``xsrfCookieSameSite = "none"`` is marked Secure, and a browser drops a Secure cookie set over
plain http: every upload then fails with 403. The fix this repository takes: SameSite=None only
where the app is embedded over HTTPS (the Space: its Dockerfile launches with
``--server.xsrfCookieSameSite=none``; tests/e2e/test_e2e_iframe.py), Streamlit's default ``lax``
in config.toml for everything else, which the LAN case below shows working — and the control
shows "none" failing there.
"""

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, OUT, ROOT, start_server, stop_server
from .test_e2e_iframe import _png

pytestmark = pytest.mark.e2e

LAN_ARGS = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP lan.test 127.0.0.1"]


@pytest.fixture(scope="module")
def lan_browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=LAN_ARGS, headless=True)
    yield b
    b.close()


def _upload(browser, url: str, png, choose=None):
    """Open ``url`` in a fresh context, upload ``png``; (page, upload statuses, cookies)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if "/_stcore/upload_file/" in r.url else None)
    page.goto(url, timeout=120_000)
    if choose:
        choose(page)
    box = page.locator("input[type=file]")
    box.wait_for(state="attached", timeout=240_000)
    box.set_input_files(str(png))
    for _ in range(240):
        if statuses:
            break
        page.wait_for_timeout(250)
    return ctx, page, statuses, ctx.cookies()


@pytest.fixture()
def png(tmp_path):
    p = tmp_path / "photo.png"
    p.write_bytes(_png())
    return p


@pytest.fixture()
def uploader(tmp_path):
    d = tmp_path / "app"
    d.mkdir()
    (d / "up.py").write_text("import streamlit as st\nf = st.file_uploader('file')\n"
                             "st.write(f'got {len(f.getvalue())} bytes' if f else 'nothing yet')\n")
    return d / "up.py"


def test_the_app_as_launched_takes_an_upload_over_plain_http_on_a_lan_address(lan_browser, png):
    """`streamlit run app.py` with the repository's config, opened as http://<lan host>:PORT."""
    proc, port = start_server(ROOT / "app.py", "lan-server.log")
    try:
        def choose(page):
            page.get_by_text("upload a PNG/JPEG").click(timeout=240_000)

        ctx, page, statuses, cookies = _upload(lan_browser, f"http://lan.test:{port}/attribution", png, choose)
        assert statuses and all(s < 300 for s in statuses), statuses
        page.get_by_text("PNG 40×30 resized to").wait_for(timeout=120_000)
        xsrf = [c for c in cookies if c["name"] == "_streamlit_xsrf"]
        assert xsrf and not xsrf[0]["secure"] and xsrf[0]["sameSite"] == "Lax", xsrf
        page.screenshot(path=str(OUT / "lan_upload.png"))
        ctx.close()
    finally:
        stop_server(proc)


@pytest.mark.parametrize("same_site,works", [("lax", True), ("none", False)])
def test_over_plain_http_lax_uploads_and_none_is_refused(lan_browser, png, uploader, same_site, works):
    """The control: "none" marks the cookie Secure, which plain http cannot set: 403."""
    args = ("--server.address", "127.0.0.1", "--server.xsrfCookieSameSite", same_site)
    proc, port = start_server(uploader, f"lan-{same_site}.log", cwd=uploader.parent, args=args)
    try:
        ctx, page, statuses, cookies = _upload(lan_browser, f"http://lan.test:{port}/", png)
        assert len(statuses) == 1 and (statuses[0] < 300) == works and (works or statuses[0] == 403), statuses
        assert any(c["name"] == "_streamlit_xsrf" for c in cookies) == works, cookies
        if works:
            page.get_by_text("got ").wait_for(timeout=60_000)
        ctx.close()
    finally:
        stop_server(proc)
