"""Typed keys for what the aiohttp app carries, shared by the faces."""

from aiohttp import web

from .core.service import Core

CORE = web.AppKey("core", Core)
