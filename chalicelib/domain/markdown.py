"""Markdown to safe HTML: raw HTML is not parsed, and the output is sanitized again."""
from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_ALLOWED_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # js-default: no raw HTML, linkify off, and markdown-it's own URL validation.
    return MarkdownIt("js-default")


_SURROGATE = re.compile("[\ud800-\udfff]")


def render_html(message: str) -> str:
    # nh3 takes UTF-8: an unpaired surrogate (only in data stored before the edge refused them) is U+FFFD.
    html = _parser().render(_SURROGATE.sub("\ufffd", message))
    return nh3.clean(html, url_schemes=_ALLOWED_SCHEMES, link_rel="noopener noreferrer nofollow")
