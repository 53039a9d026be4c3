from paperfeed.papers.authors import from_display_name, from_last_first, split_author_list
from paperfeed.papers.categories import category_name, code_for_name
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
    assert category_name("cs.CL") == "Computer Science - Computation and Language"


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
