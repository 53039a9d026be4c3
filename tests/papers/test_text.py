import pytest

from paperfeed.papers.text import collapse_whitespace, detex_accents, normalize_text, title_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bal\\'azs", "Balázs"),
        ('{\\"o}', "ö"),
        ('Schr\\"{o}dinger', "Schrödinger"),
        ("Erd\\H{o}s", "Erdős"),
        ("\\c{C}etin", "Çetin"),
        ("Gau\\ss", "Gauß"),
        ("\\v{S}koda", "Škoda"),
        ("{\\o}ksendal", "øksendal"),
        ("Fran\\c cois", "François"),
        ("Pr\\'{\\i}ncipe", "Príncipe"),
    ],
)
def test_tex_accents_become_unicode(raw: str, expected: str) -> None:
    assert detex_accents(raw) == expected


def test_math_is_kept_verbatim() -> None:
    text = "the $(k,\\ell)$-pebble game and $\\'a$ and Bal\\'azs"
    assert normalize_text(text) == "the $(k,\\ell)$-pebble game and $\\'a$ and Balázs"


def test_line_continuations_and_spacing_collapse() -> None:
    raw = "  A fully differential calculation\nis presented for the\n  production.\n"
    assert (
        normalize_text(raw) == "A fully differential calculation is presented for the production."
    )


@pytest.mark.parametrize(
    "raw",
    [
        "plain words",
        "  lead and trail  ",
        "one\ntwo\n",
        "a\n  b",
        "tab\there",
        "cr\r\nlf",
        "nbsp\u00a0here",
        "ideographic\u3000space and\u2028line separator",
        "unit\x1fseparator\x0bvertical\x0cfeed",
        "next line\x85char",
        "delete\x7fand\x00nul are not spaces",
        "bell\x07 ",
        "\n",
        "",
        "zero\u200bwidth stays",
        "émoji 🚀\nline",
    ],
)
def test_collapse_whitespace_matches_splitting_on_any_whitespace(raw: str) -> None:
    assert collapse_whitespace(raw) == " ".join(raw.split())


def test_markup_is_kept_as_text_not_interpreted() -> None:
    raw = "<script>alert('x')</script> & <b>bold</b> 🚀"
    assert normalize_text(raw) == raw


def test_title_key_ignores_case_accents_punctuation_and_spacing() -> None:
    assert title_key("Attention Is All You Need") == title_key("attention is all\n  you need.")
    assert title_key("Schr\\\"odinger's Cat") == title_key("Schrodingers cat")
    assert title_key("") == ""


def test_printable_check_agrees_with_str_isprintable() -> None:
    from paperfeed.papers.text import _printable

    for text in [f"a{chr(c)}b" for c in range(0x100)] + ["", "é\u2028", "plain"]:
        assert _printable(text) == text.isprintable(), repr(text)
