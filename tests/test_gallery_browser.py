"""The gallery in a real browser: headless Chromium (the Debian package) driven by
Playwright. Search, open a repository, switch tabs, copy the pull command, and
prove that hostile markdown never runs. Screenshots of the three page kinds at
desktop and phone widths go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Server, start_server
from support.gallery import MARKDOWN_PAYLOAD, XSS_FLAG, Content, populate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        # In CI a missing browser is a broken setup, never a reason to skip.
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests cannot run: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # The system Chromium, never a downloaded one (no `playwright install`).
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One backend is enough here: the page tests cover both, this covers the browser.
    server = start_server(tmp_path_factory.mktemp("gallery-browser") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def content(gallery_server: Server) -> Content:
    return populate(gallery_server, "web")


@pytest.fixture
def tab(browser: Any, gallery_server: Server) -> Iterator[Any]:
    """A fresh desktop page that records script errors and CSP violations."""
    context = browser.new_context(**VIEWPORTS["desktop"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gallery_server.url)
    opened = context.new_page()
    opened.errors = []  # type: ignore[attr-defined]
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on("dialog", lambda dialog: (opened.errors.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _card_names(tab: Any) -> list[str]:
    return [str(n) for n in tab.locator(".card-name").all_inner_texts()]


def _not_pwned(tab: Any) -> None:
    assert tab.evaluate(f"typeof window.{XSS_FLAG}") == "undefined"
    assert tab.title() != "pwned"
    assert tab.errors == []


def test_home_search_and_filters(tab: Any, gallery_server: Server, content: Content):
    tab.goto(gallery_server.url + "/")
    assert tab.title() == "berth gallery"
    assert set(_card_names(tab)) == {content.app, content.cli, content.other}
    tab.fill("input[name=q]", "helper")
    tab.press("input[name=q]", "Enter")
    tab.wait_for_url("**/gallery?q=helper")
    assert _card_names(tab) == [content.cli]
    assert tab.locator("h1").inner_text() == "1 repository for “helper”"
    # The filters form keeps the text and narrows by operating system.
    tab.fill("input[name=q]", "web/")
    tab.press("input[name=q]", "Enter")
    tab.wait_for_url("**/gallery?q=web%2F")
    tab.select_option("select[name=os]", "Linux")
    tab.click("form.filters button[type=submit]")
    tab.wait_for_url("**os=Linux**")
    assert _card_names(tab) == [content.app]
    assert tab.locator("input[name=q]").first.input_value() == "web/"
    _not_pwned(tab)


def test_repository_tabs_copy_and_inert_markdown(
    tab: Any, gallery_server: Server, content: Content
):
    tab.goto(gallery_server.url + "/gallery")
    tab.click(f"a.card-link[href='/gallery/{content.alias}/{content.app}']")
    tab.wait_for_url(f"**/gallery/{content.alias}/{content.app}")
    assert tab.locator("h1").inner_text() == content.app
    # The logo loaded (CSP allows it, the server sent a PNG).
    assert tab.evaluate("document.querySelector('img.logo').naturalWidth") == 64

    about, usage = tab.locator("#panel-about"), tab.locator("#panel-usage")
    assert about.is_visible() and not usage.is_visible()
    assert "About <b>bold</b>" in about.inner_text()
    tab.click("label[for=tab-usage]")
    assert usage.is_visible() and not about.is_visible()
    assert "docker run --rm app --help" in usage.locator("pre code").inner_text()
    tab.click("label[for=tab-about]")
    assert about.is_visible() and not usage.is_visible()

    command = f"docker pull {gallery_server.host}/{content.alias}/{content.app}:latest"
    button = tab.locator("button.copy")
    button.click()
    expect(button).to_have_text("Copied")
    assert tab.evaluate("navigator.clipboard.readText()") == command

    # The payload's script, onerror handler and javascript: link are all inert.
    assert about.locator("script, img, [onerror], [onclick]").count() == 0
    assert about.locator("a[href^='javascript']").count() == 0
    hrefs = about.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://example.com/docs"]
    _not_pwned(tab)


def test_the_payload_would_run_unsanitised(browser: Any):
    # The control: the same markdown as raw HTML in a page without berth's sanitising
    # or policy does set the flag, so `_not_pwned` above can tell.
    context = browser.new_context()
    raw = context.new_page()
    raw.set_content(MARKDOWN_PAYLOAD.replace("\n", "<br>"))
    raw.wait_for_function(f"window.{XSS_FLAG} !== undefined", timeout=5000)
    assert raw.title() == "pwned"
    context.close()


def test_pages_work_without_javascript(browser: Any, gallery_server: Server, content: Content):
    context = browser.new_context(java_script_enabled=False, **VIEWPORTS["desktop"])
    plain = context.new_page()
    plain.goto(f"{gallery_server.url}/gallery/{content.alias}/{content.app}")
    plain.click("label[for=tab-usage]")  # CSS tabs: no script needed
    assert plain.locator("#panel-usage").is_visible()
    assert not plain.locator("#panel-about").is_visible()
    assert "docker pull" in plain.locator("#pull-command").inner_text()
    context.close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_screenshots_and_no_sideways_scroll(
    browser: Any, gallery_server: Server, content: Content, viewport: str
):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(**VIEWPORTS[viewport])
    shot = context.new_page()
    for kind, path in [
        ("home", "/"),
        ("registry", f"/gallery/{content.alias}"),
        ("repository", f"/gallery/{content.alias}/{content.app}"),
        ("tags", f"/gallery/{content.alias}/{content.cli}"),
        ("not-found", "/gallery/nosuchalias"),
    ]:
        response = shot.goto(gallery_server.url + path)
        assert response is not None and response.status in (200, 404)
        shot.screenshot(path=str(ARTIFACTS / f"gallery-{kind}-{viewport}.png"), full_page=True)
        # Nothing wider than the screen: a phone never scrolls sideways.
        overflow = shot.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (kind, viewport, overflow)
        # The stylesheet applied (CSP allows it): the header is dark.
        assert shot.evaluate("getComputedStyle(document.querySelector('.top')).display") == "flex"
    context.close()
