import pytest

from paperfeed.papers.authors import (
    author_key,
    author_path,
    from_display_name,
    from_last_first,
    split_author_list,
)
from paperfeed.papers.categories import (
    ARCHIVES_WITHOUT_SUBJECTS,
    CATEGORY_NAMES,
    category_for_set_spec,
    category_set_spec,
    code_for_name,
    lists_subject_classes,
)
from paperfeed.papers.links import extract_links


def test_author_list_splits_on_commas_and_and() -> None:
    authors = split_author_list("C. Bal\\'azs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan")
    assert [a["last"] for a in authors] == ["Balázs", "Berger", "Nadolsky", "Yuan"]
    assert authors[0]["name"] == "C. Balázs"
    assert authors[3]["first"] == "C.-P."


def test_affiliations_in_parentheses_do_not_split_names() -> None:
    authors = split_author_list("A. Smith (MIT, Cambridge), B. Jones ((1) U. X, (2) U. Y)")
    assert [a["name"] for a in authors] == ["A. Smith", "B. Jones"]


def test_particles_and_suffixes() -> None:
    author = from_display_name("Ludwig van Beethoven Jr.")
    assert (author["first"], author["last"], author["suffix"]) == ("Ludwig", "van Beethoven", "Jr.")
    assert from_last_first("Shoikhet, Boris")["name"] == "Boris Shoikhet"
    assert from_last_first("King, Jr., Martin")["suffix"] == "Jr."


def test_oai_dc_category_names_map_to_codes() -> None:
    assert code_for_name("Computer Science - Learning") == "cs.LG"
    assert code_for_name("Computer Science - Machine Learning") == "cs.LG"
    assert code_for_name("High Energy Physics - Theory") == "hep-th"
    assert (
        code_for_name("Condensed Matter - Mesoscale and Nanoscale Physics") == "cond-mat.mes-hall"
    )
    assert code_for_name("Statistics - Machine Learning") == "stat.ML"
    assert code_for_name("math.RT") == "math.RT"
    assert code_for_name("68T05") is None
    assert CATEGORY_NAMES["cs.CL"] == "Computer Science - Computation and Language"


@pytest.mark.parametrize(
    ("category", "set_spec"),
    [
        ("cs.LG", "cs:cs:LG"),
        ("stat.ML", "stat:stat:ML"),
        ("math.AG", "math:math:AG"),
        ("hep-th", "physics:hep-th"),
        ("astro-ph.GA", "physics:astro-ph:GA"),
        ("physics.optics", "physics:physics:optics"),
        ("cond-mat.mes-hall", "physics:cond-mat:mes-hall"),
        ("q-bio.NC", "q-bio:q-bio:NC"),
        ("q-fin.ST", "q-fin:q-fin:ST"),
        ("eess.IV", "eess:eess:IV"),
        ("econ.EM", "econ:econ:EM"),
        ("cs", "cs"),
        ("quant-ph", "physics:quant-ph"),
    ],
)
def test_categories_map_to_arxiv_oai_sets(category: str, set_spec: str) -> None:
    assert category_set_spec(category) == set_spec
    assert category_for_set_spec(set_spec) == category


def test_a_category_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not an arXiv category"):
        category_set_spec("machine learning")


def test_archives_with_subject_classes_list_their_subjects() -> None:
    assert {
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math-ph",
        "nucl-ex",
        "nucl-th",
        "quant-ph",
    } == ARCHIVES_WITHOUT_SUBJECTS
    assert lists_subject_classes("cs") and lists_subject_classes("astro-ph")
    assert not lists_subject_classes("cs.LG")
    assert not lists_subject_classes("hep-th")


def test_code_and_project_links_are_found() -> None:
    links = extract_links(
        "Code is at https://github.com/user/repo. See the project page "
        "(https://user.github.io/proj) and weights huggingface.co/user/model.",
        "Accepted at NeurIPS; data: https://doi.org/10.1/x and https://arxiv.org/abs/1234.5678",
    )
    assert links == [
        {"kind": "github", "url": "https://github.com/user/repo"},
        {"kind": "project", "url": "https://user.github.io/proj"},
        {"kind": "huggingface", "url": "https://huggingface.co/user/model"},
    ]


def test_same_link_twice_is_listed_once() -> None:
    links = extract_links("https://github.com/a/b and github.com/a/b/", None)
    assert len(links) == 1


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("Balázs Szegedy", "balazs  SZEGEDY", True),  # accents, case, spacing
        ("C.-P. Lee", "C. P. Lee", True),  # punctuation
        ("Rafal Kocielnik", "Kocielnik", False),  # part of a name is not the name
        ("Yang Shi", "Shi Yang", False),  # order counts
    ],
)
def test_author_key_matches_names_whole_without_case_accents_or_punctuation(
    one: str, other: str, same: bool
) -> None:
    assert (author_key(one) == author_key(other)) is same


def test_author_path_quotes_the_whole_name() -> None:
    assert author_path("Ada Lovelace") == "/authors/Ada%20Lovelace"
    assert author_path("A/B ?#") == "/authors/A%2FB%20%3F%23"
