"""User-written markdown (aboutText, usageText) to safe HTML.

CommonMark with raw HTML off, headings one level down, then sanitised with nh3 as a second line of
defence: no scripts, no event handlers, no javascript: or data: URLs.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img",
    "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}}
_ABSOLUTE = ("http://", "https://", "mailto:")


def _absolute_urls_only(_tag: str, attribute: str, value: str) -> str | None:
    """nh3 lets relative URLs through; a publisher's text has no pages of its own to
    point at, and `//host` would leave the gallery under another name."""
    if attribute in ("href", "src") and not value.lower().startswith(_ABSOLUTE):
        return None
    return value


def _demoted(text: str) -> str:
    """HTML with every heading one level down: the page's one <h1> is the
    repository's name, so the publisher's `# Title` becomes an <h2>."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return str(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


def render(text: str | None) -> str:
    if not text:
        return ""
    return nh3.clean(
        _demoted(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_absolute_urls_only,
    )
