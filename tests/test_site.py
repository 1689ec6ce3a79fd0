"""The HTML book: it builds offline from book.yml, and its pages render in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


class _Links(HTMLParser):
    """Collects (tag, attribute, value) of every link and resource, and every id, of one page."""

    RESOURCE = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
                ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value and ((tag, name) in self.RESOURCE or (tag == "a" and name == "href")):
                self.links.append((tag, name, value))


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_link_resolves_and_nothing_is_loaded_from_outside(site):
    """Follow every link of every page: files exist, anchors exist, and no resource comes from the web."""
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    parsed = {p.resolve(): _parse(p) for p in pages}
    problems = []
    for page in pages:
        for tag, attr, value in parsed[page.resolve()].links:
            parts = urlsplit(value)
            where = f"{page.relative_to(site)}: <{tag} {attr}={value!r}>"
            if parts.scheme in ("http", "https") or value.startswith("//"):
                if tag != "a":
                    problems.append(f"{where} loads a resource from outside the site")
                continue
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/"):
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{where} points to a missing file")
                continue
            if parts.fragment and target.suffix == ".html" and target.resolve() in parsed:
                if unquote(parts.fragment) not in parsed[target.resolve()].ids:
                    problems.append(f"{where}: no element with id {parts.fragment!r} there")
    assert not problems, f"{len(problems)} broken links or outside requests:\n" + "\n".join(problems[:30])


@pytest.mark.parametrize("chapter", BOOK.ready(), ids=lambda c: c.id)
def test_each_chapter_page_links_its_exercises_and_solutions(site, chapter):
    page = site / Path(chapter.chapter).with_suffix(".html")
    hrefs = {v for tag, _, v in _parse(page).links if tag == "a"}
    for key in ("exercises", "solutions"):
        target = "../" + Path(getattr(chapter, key)).with_suffix(".html").as_posix()
        assert target in hrefs, f"{page.name} does not link its {key} notebook ({target})"
        assert (page.parent / target).resolve().is_file(), f"{target} was not built"


def test_chapter0_course_map_links_point_at_pages(site):
    links = {v for tag, _, v in _parse(site / "chapters" / "00-what-is-an-llm.html").links if tag == "a"}
    for c in BOOK.ready():
        if c.id != BOOK.ready()[0].id:
            assert Path(c.chapter).with_suffix(".html").name in links, f"chapter 0's course map does not link {c.chapter}"
    assert not any(v.endswith(".ipynb") for v in links if not v.startswith("../_sources")), "a link still points at a .ipynb"


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
            h1 = None
            for _ in range(50):  # a loaded machine can be slow to lay out a long page
                h1 = browser.execute_script(
                    "return document.querySelector('h1') && document.querySelector('h1').innerText")
                if h1:
                    break
                time.sleep(0.2)
            assert h1 and title in h1, f"{page}: rendered heading {h1!r}, expected {title!r}"
            outside = browser.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
                ".filter(n => !n.startsWith(location.origin))"
            )
            assert not outside, f"{page}: the browser fetched resources from outside the site: {outside}"
            widths = browser.execute_script(
                "return Array.from(document.images).filter(i => i.complete).map(i => i.naturalWidth)"
            )
            assert any(w > 0 for w in widths), f"{page}: no figure was drawn in the browser (widths {widths})"
        browser.save_screenshot(str(tmp_path / "last-page.png"))
    finally:
        browser.quit()
