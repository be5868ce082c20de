"""Markdown to safe HTML: raw HTML is not parsed, and the output is sanitized again."""
from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_ALLOWED_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # js-default: no raw HTML, linkify off, and markdown-it's own URL validation.
    return MarkdownIt("js-default")


def render_html(message: str) -> str:
    html = _parser().render(message)
    return nh3.clean(html, url_schemes=_ALLOWED_SCHEMES, link_rel="noopener noreferrer nofollow")


def plain_text(message: str, limit: int | None = None) -> str:
    """The message with Markdown removed (for short text surfaces)."""
    text = nh3.clean(_parser().render(message), tags=set()).strip()
    import html as _html

    text = " ".join(_html.unescape(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
