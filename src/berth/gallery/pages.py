"""Gallery pages: home and search, a registry, a repository; all read-only."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..appkeys import CORE
from ..core import gallery
from ..core.names import is_repository_name
from . import markdown

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Pages carry no inline script or style, so the policy can be strict.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STATIC = {
    "gallery.css": "text/css; charset=utf-8",
    "gallery.js": "text/javascript; charset=utf-8",
}


def _when(stamp: float | None) -> str:
    return "" if stamp is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


_TEMPLATES.filters.update(when=_when, size=_size, markdown=markdown.render)


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    core = request.app[CORE]
    html = _TEMPLATES.get_template(template).render(
        public_host=core.settings.public_host,
        public_url=core.settings.public_url,
        architectures=gallery.ARCHITECTURES,
        operating_systems=gallery.OPERATING_SYSTEMS,
        badges=gallery.badges,
        **context,
    )
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


def page(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A gallery handler whose failures still answer with an HTML page."""

    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("gallery page %s failed", request.path)
            return _render(request, "error.html", status=500)

    return guarded


def not_found(request: web.Request, what: str) -> web.Response:
    return _render(request, "not_found.html", status=404, what=what)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@page
async def home(request: web.Request) -> web.Response:
    core = request.app[CORE]
    query = request.query
    text = query.get("q", "").strip()[:200]
    architecture = _choice(query.get("architecture"), gallery.ARCHITECTURES)
    operating_system = _choice(query.get("os"), gallery.OPERATING_SYSTEMS)
    sort = _choice(query.get("sort"), gallery.SORTS) or "pushed"
    page = _int(query.get("page"))
    # Any search parameter, even an empty or unknown one, asks for results.
    searching = any(key in query for key in ("q", "architecture", "os", "sort"))
    context: dict[str, Any] = {
        "q": text,
        "architecture": architecture,
        "os": operating_system,
        "sort": sort,
        "searching": searching,
    }
    if searching:
        context["result"] = await gallery.search(
            core,
            text,
            architecture=architecture,
            operating_system=operating_system,
            sort=sort,
            page=page,
        )
    else:
        context["pushed"], context["created"] = await gallery.front_page(core)
    return _render(request, "home.html", **context)


@page
async def registry_page(request: web.Request) -> web.Response:
    core = request.app[CORE]
    alias = request.match_info["alias"]
    found = await gallery.registry(core, alias)
    if found is None:
        return not_found(request, f"registry {alias}")
    result = await gallery.search(
        core, sort="name", page=_int(request.query.get("page")), account_id=found.account_id
    )
    return _render(
        request, "registry.html", alias=alias, display_name=found.display_name, result=result
    )


@page
async def repository_page(request: web.Request) -> web.Response:
    core = request.app[CORE]
    alias, name = request.match_info["alias"], request.match_info["name"]
    item = await gallery.listing(core, alias, name) if is_repository_name(name) else None
    if item is None:
        return not_found(request, f"repository {alias}/{name}")
    rows, page = await gallery.tags(core, item, _int(request.query.get("page")))
    return _render(
        request,
        "repository.html",
        item=item,
        rows=rows,
        page=page,
        pull_tag=await gallery.pull_tag(core, item),
    )


@page
async def static(request: web.Request) -> web.Response:
    name = request.match_info["file"]
    content_type = STATIC.get(name)
    if content_type is None:
        return not_found(request, "file")
    return web.Response(
        body=(HERE / "static" / name).read_bytes(),
        headers={
            **SECURITY_HEADERS,
            "Content-Type": content_type,
            "Cache-Control": "public, max-age=300",
        },
    )
