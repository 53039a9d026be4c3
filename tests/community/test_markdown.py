"""Comment rendering: a small Markdown subset, and nothing a commenter writes can run in a
reader's browser. Every output is parsed as HTML and checked against the allow-list."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from paperfeed.community.markdown import render_comment

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote"}
REL = "nofollow noopener noreferrer ugc"


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def text_of(html: str) -> str:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return "".join(parser.text)


def assert_safe(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, f"<{tag}> survived in {html!r}"
        allowed = {"href", "rel", "title"} if tag == "a" else set()
        assert set(attrs) <= allowed, f"attributes {set(attrs) - allowed} on <{tag}> in {html!r}"
        if tag == "a":
            href = (attrs.get("href") or "").strip()
            scheme = urlsplit(href).scheme.lower()
            assert scheme in {"", "http", "https", "mailto"}, f"href {href!r} in {html!r}"
            assert attrs.get("rel") == REL


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(document.cookie)"/>',
    "<svg onload=alert(1)>",
    "<iframe src=//evil.example></iframe>",
    "<a href='javascript:alert(1)'>click</a>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<p style='background:url(javascript:alert(1))'>x</p>",
    "<style>body{display:none}</style>",
    "<form action=//evil.example><input name=password></form>",
    "<object data=x.swf></object><embed src=x.swf>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<!-- <script>alert(1)</script> -->",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1) )",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    '[x](https://ok.example/" onmouseover="alert(1))',
    '[x](https://ok.example/ "title" onmouseover="alert(1)")',
    '[x](https://ok.example/ "t\\" onmouseover=\\"alert(1)")',
    '[x](<https://ok.example/"onmouseover="alert(1)>)',
    "[x](https://ok.example/?q=<script>alert(1)</script>)",
    "![img](x onerror=alert(1))",
    "![img](javascript:alert(1))",
    "**<img src=x onerror=alert(1)>**",
    "> <script>alert(1)</script>",
    "- <script>alert(1)</script>\n- [x](javascript:alert(1))",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<<script>script>alert(1)<</script>/script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "[x]: javascript:alert(1)\n\n[click][x]",
    '<https://ok.example/" onmouseover="alert(1)>',
    "\x00<script>alert(1)</script>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markup_never_survives(source: str) -> None:
    html = render_comment(source)
    assert_safe(html)
    for tag in ("<script", "<img", "<svg", "<iframe", "<style", "<form", "<object", "<math"):
        assert tag not in html.lower(), f"{tag} as markup in {html!r}"


@pytest.mark.parametrize(
    "source",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>bold</b>"],
)
def test_raw_html_is_shown_as_text(source: str) -> None:
    """Raw HTML is not dropped silently either: the reader sees what was written."""
    html = render_comment(source)
    assert elements(html) == [("p", {})]
    assert text_of(html).strip() == source


def test_javascript_link_stays_as_plain_text() -> None:
    html = render_comment("[click](javascript:alert(1))")
    assert [tag for tag, _ in elements(html)] == ["p"]
    assert "click" in text_of(html)


def test_a_link_title_stays_an_inert_attribute_value() -> None:
    """Markdown link titles are kept as text; quotes in them cannot open new attributes."""
    html = render_comment('[x](https://ok.example/ "a\\" onmouseover=\\"alert(1)")')
    assert elements(html) == [
        ("p", {}),
        ("a", {"href": "https://ok.example/", "title": 'a" onmouseover="alert(1)', "rel": REL}),
    ]
    assert_safe(html)


def test_code_fence_language_class_is_stripped_by_the_sanitiser() -> None:
    """Markdown renders `class="language-python"`; the allow-list removes it."""
    fence = render_comment("```python\nprint(1)\n```")
    assert elements(fence) == [("pre", {}), ("code", {})]
    assert fence == "<pre><code>print(1)\n</code></pre>\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("*em* and **strong**", "<p><em>em</em> and <strong>strong</strong></p>\n"),
        ("use `x < y`", "<p>use <code>x &lt; y</code></p>\n"),
        ("one\ntwo", "<p>one<br>\ntwo</p>\n"),
        ("first\n\nsecond", "<p>first</p>\n<p>second</p>\n"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>\n"),
        ("    indented code", "<pre><code>indented code\n</code></pre>\n"),
        ("\\*not em\\*", "<p>*not em*</p>\n"),
        ("# not a heading", "<p># not a heading</p>\n"),
        ("a & b", "<p>a &amp; b</p>\n"),
    ],
)
def test_markdown_subset(source: str, expected: str) -> None:
    assert render_comment(source) == expected


@pytest.mark.parametrize(
    "href",
    ["https://example.org/a?b=1&c=2", "http://example.org/", "mailto:ada@example.org"],
)
def test_safe_links_keep_their_target_and_get_rel(href: str) -> None:
    html = render_comment(f"[link]({href})")
    assert elements(html) == [("p", {}), ("a", {"href": href, "rel": REL})]
    assert_safe(html)


def test_images_are_not_part_of_the_subset() -> None:
    html = render_comment("![diagram](https://example.org/d.png)")
    assert "img" not in [tag for tag, _ in elements(html)]
    assert_safe(html)
