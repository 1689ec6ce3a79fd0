"""The HTML book: it builds offline from book.yml, and its pages render in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from minillm.course.book import load_book
from minillm.course.site import build

ROOT = Path(__file__).resolve().parents[1]
BOOK = load_book(ROOT / "book.yml")
PAGES = [("index.html", BOOK.title)] + [
    (Path(c.chapter).with_suffix(".html").as_posix(), c.title) for c in BOOK.ready()
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book") / "html"
    index = build(ROOT, out=out, execute="off")
    assert index == out / "index.html"
    return out


def test_toc_comes_from_book_yml(site):
    index = (site / "index.html").read_text()
    for c in BOOK.ready():
        href = Path(c.chapter).with_suffix(".html").as_posix()
        assert f'href="{href}"' in index, f"the start page does not link {href}"
    for c in BOOK.chapters:
        if not c.ready:
            assert c.title.split(":")[0] in index, f"planned chapter {c.title!r} missing from the course map"


@pytest.mark.parametrize("page,title", PAGES)
def test_pages_have_title_and_figure_files(site, page, title):
    html = (site / page).read_text()
    h1 = re.search(r"<h1>(.*?)<a", html, re.S)
    assert h1 and title in h1.group(1), f"{page}: first heading is {h1 and h1.group(1)!r}, expected {title!r}"
    imgs = re.findall(r'<img [^>]*src="([^"]+\.png)"', html)
    assert imgs, f"{page} shows no figure"
    for src in imgs:
        assert (site / page).parent.joinpath(src).resolve().is_file(), f"{page}: figure {src} missing"


def _chrome():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("headless Chromium test skipped: install Debian's chromium and chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=opts)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request on stderr
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_pages_render_in_chromium(server, tmp_path):
    browser = _chrome()
    try:
        for page, title in PAGES:
            browser.get(f"{server}/{page}")
            h1 = browser.execute_script("return document.querySelector('h1') && document.querySelector('h1').innerText")
            assert h1 and title in h1, f"{page}: rendered heading {h1!r}, expected {title!r}"
            widths = browser.execute_script(
                "return Array.from(document.images).filter(i => i.complete).map(i => i.naturalWidth)"
            )
            assert any(w > 0 for w in widths), f"{page}: no figure was drawn in the browser (widths {widths})"
        browser.save_screenshot(str(tmp_path / "last-page.png"))
    finally:
        browser.quit()
