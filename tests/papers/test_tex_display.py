from __future__ import annotations

import pytest

from paperfeed.papers.tex_display import readable


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
