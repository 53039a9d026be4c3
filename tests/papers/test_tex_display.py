from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from paperfeed.papers.tex_display import readable, to_html


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (
            r"Bounds on $\alpha$-divergences for $n^2$ samples",
            "Bounds on α-divergences for n² samples",
        ),
        (r"An \emph{exact} solution in $O(n \log n)$", "An exact solution in O(n log n)"),
        (r"$\mathcal{O}(1)$ updates", "O(1) updates"),
        (r"50\% faster", "50% faster"),
        (r"$x_1 \leq x_2$", "x₁ ≤ x₂"),
        ("plain title", "plain title"),
    ],
)
def test_common_tex_becomes_readable(source: str, shown: str) -> None:
    assert readable(source) == shown


@pytest.mark.parametrize(
    "source",
    [
        r"Keep $\frac{a}{b}$ as written",  # not understood: left as TeX, dollars included
        "costs $5 and $10",  # dollars that are not math
        r"\unknowncommand{x}",
    ],
)
def test_what_is_not_understood_is_left_alone(source: str) -> None:
    assert readable(source) == source


def test_markup_is_text_not_interpreted() -> None:
    # readable() never adds or removes angle brackets: the page escapes whatever it returns.
    assert readable(r"<script>alert(1)</script> $\alpha$") == "<script>alert(1)</script> α"


# -- to_html: MathML for pages ---------------------------------------------------------------

MATHML = "{http://www.w3.org/1998/Math/MathML}"


def _parsed(markup: str) -> ET.Element:
    """The markup as XML (it must be well-formed: escaped text, closed elements)."""
    return ET.fromstring(f'<p xmlns:m="http://www.w3.org/1998/Math/MathML">{markup}</p>')


def test_formulas_become_mathml_and_the_rest_escaped_text() -> None:
    # arXiv 1701.07477's abstract and 1608.06066's title carry these.
    html = to_html(r"with $m=c_\epsilon K\log \frac{c_1N}{K}$ measurements & <b>bold</b>")
    root = _parsed(html)
    (math,) = root.findall(f"{MATHML}math")
    assert [e.tag.removeprefix(MATHML) for e in math.iter()][:4] == ["math", "mrow", "mi", "mo"]
    assert math.find(f".//{MATHML}mfrac") is not None
    assert "ϵ" in "".join(math.itertext())
    assert root.text == "with "
    assert math.tail == " measurements & <b>bold</b>"  # text, not markup
    sub = _parsed(to_html(r"$J_{eff}$")).find(f".//{MATHML}msub")
    assert sub is not None and "".join(sub.itertext()) == "Jeff"


@pytest.mark.parametrize(
    "source",
    [
        r"$\text{<script>alert(1)</script>}$",
        r"$\href{javascript:alert(1)}{x}$",
        r"$\style{background:url(https://evil.example/x)}{x}$",
        r'$\color{red" onmouseover="alert(1)}{y}$',
        r"$x^{<img src=x onerror=alert(1)>}$",
        r"$\mathrm{</math><script>alert(1)</script>}$",
        "<script>alert(1)</script> $a$ <img src=x onerror=alert(1)>",
        r"$\operatorname{<iframe>}$ \emph{<svg onload=alert(1)>}",
    ],
)
def test_hostile_tex_cannot_put_markup_or_links_on_the_page(source: str) -> None:
    html = str(to_html(source))
    root = _parsed(html)  # well-formed: nothing broke out of its element
    tags = {e.tag for e in root.iter()} - {"p"}
    assert all(t.startswith(MATHML) for t in tags), tags
    attributes = {name for e in root.iter() for name in e.attrib}
    assert attributes <= {"display", "stretchy", "mathvariant", "fence", "form"}, attributes
    lowered = html.lower()
    for bad in ("<script", "<img", "<iframe", "<svg", "href=", "style=", "mathcolor"):
        assert bad not in lowered, bad


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"Keep $\left( x$ as written", r"Keep $\left( x$ as written"),  # a syntax error
        (r"$a^$ and $x_$", r"$a^$ and $x_$"),  # a script without its base's argument
        (r"$\unknowncmd x$ here", r"$\unknowncmd x$ here"),  # a command it does not know
        ("costs $5 and $10", "costs $5 and $10"),  # not math
        ("a < b & c", "a &lt; b &amp; c"),
        ("$" + "{" * 400 + "x" + "}" * 400 + "$", "$" + "{" * 400 + "x" + "}" * 400 + "$"),
    ],
)
def test_what_cannot_be_converted_is_shown_as_its_source(source: str, shown: str) -> None:
    assert str(to_html(source)) == shown
