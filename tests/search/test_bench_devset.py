"""The second search development set's query rule (bench/search_devset.py): titles become
plain words, and a title counts as hinging on specific terms by its words alone."""

from bench.search_devset import hinges_on_terms, query_words


def test_titles_become_plain_words_without_query_syntax() -> None:
    title = 'Diffusion of Active Particles Modeled as $\\alpha$-Stable Noise: "a" -survey'
    words = query_words(title)
    assert words == [
        "Diffusion", "of", "Active", "Particles", "Modeled", "as", "alpha", "Stable", "Noise",
        "a", "survey",
    ]  # fmt: skip
    assert not any(w.startswith("-") or ":" in w or '"' in w for w in words)


def test_terms_are_words_with_digits_or_inner_capitals() -> None:
    assert hinges_on_terms(query_words("Resonance Raman scattering of MoS2 nanosheets"))
    assert hinges_on_terms(query_words("Some Statistics on Women in Lattice QCD"))
    assert hinges_on_terms(query_words("Lossless JPEG 2000 for Improved Bitrates"))
    assert hinges_on_terms(query_words("Towards AlphaChem: Chemical Synthesis Planning"))
    # Title case and a capital after a hyphen's start are not terms.
    assert not hinges_on_terms(query_words("Locally Repairable Codes with Unequal Locality"))
    assert not hinges_on_terms(query_words("F-pure threshold of quasi-homogeneous polynomials"))
