"""Comments are written in a small Markdown subset (emphasis, code, links, lists, quotes,
paragraphs) and rendered to HTML that is sanitised again with an allow-list (nh3), so no
markup a commenter writes can run in a reader's browser."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

MAX_COMMENT = 5000

_MD = MarkdownIt("zero", {"html": False, "linkify": False, "breaks": True}).enable(
    ["emphasis", "backticks", "link", "list", "blockquote", "fence", "code", "newline", "escape"]
)
_TAGS = {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote"}


def render_comment(source: str) -> str:
    html = _MD.render(source)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer ugc",
    )
