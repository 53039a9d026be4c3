"""The passage splitter of the passages experiment (bench/search_passages.py): a paper becomes
windows of consecutive sentences, each under the token budget with the title in front, one
sentence shared between neighbours, and a short paper stays one passage, its whole text."""

from bench.search_passages import passages, sentences

from paperfeed.search.embedder import document_text


def words(text: str) -> int:
    return len(text.split())


ABSTRACT = (
    "Alpha beta gamma delta. Epsilon zeta eta theta iota. Kappa lambda mu. "
    "Nu xi omicron pi rho sigma. Tau upsilon phi chi psi omega."
)


def test_sentences_end_at_stops_before_a_new_sentence() -> None:
    assert sentences("We use MoS2. It works (mostly). e.g. this stays. 3D is next!  Done?") == [
        "We use MoS2.",
        "It works (mostly). e.g. this stays.",
        "3D is next!",
        "Done?",
    ]


def test_a_short_paper_is_one_passage_its_whole_text() -> None:
    assert passages("A title", "One sentence. Two.", words, budget=20) == [
        document_text("A title", "One sentence. Two.")
    ]
    # (without a title, as on the arXiv dev set, the whole text is what the indexer embeds)
    assert passages("", "Only an abstract.", words, budget=5) == [
        document_text("", "Only an abstract.")
    ]


def test_windows_hold_the_title_stay_in_budget_and_overlap_by_a_sentence() -> None:
    cut = passages("Greek letters", ABSTRACT, words, budget=12)
    assert cut == [
        "Greek letters. Alpha beta gamma delta. Epsilon zeta eta theta iota.",
        "Greek letters. Epsilon zeta eta theta iota. Kappa lambda mu.",
        "Greek letters. Kappa lambda mu. Nu xi omicron pi rho sigma.",
        "Greek letters. Nu xi omicron pi rho sigma.",
        "Greek letters. Tau upsilon phi chi psi omega.",
    ]
    assert all(words(p) <= 12 for p in cut)
    # Every sentence is in some passage.
    assert all(any(s in p for p in cut) for s in sentences(ABSTRACT))


def test_without_overlap_windows_follow_each_other() -> None:
    cut = passages("", ABSTRACT, words, budget=10, overlap=0)
    assert cut == [
        "Alpha beta gamma delta. Epsilon zeta eta theta iota.",
        "Kappa lambda mu. Nu xi omicron pi rho sigma.",
        "Tau upsilon phi chi psi omega.",
    ]


def test_a_sentence_over_the_budget_is_a_window_of_its_own() -> None:
    long = " ".join(["Word"] * 30) + "."
    cut = passages("T", f"Short one. {long} Short two.", words, budget=8)
    assert cut == ["T. Short one.", f"T. {long}", "T. Short two."]
