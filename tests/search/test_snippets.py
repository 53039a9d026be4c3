"""Snippets analyse only the words that can match a query term: they must mark exactly what
analysing every word marks."""

import gzip
import json
import random
import re

import pytest

from paperfeed.search.lexical import _analyze_word
from paperfeed.search.snippets import make_snippet
from tests.conftest import DATA

SCIFACT = DATA / "beir" / "scifact" / "corpus.jsonl.gz"
# Matches no word: its presence makes the snippet analyse every word of the text.
NOT_ASCII = "ωωω"


def _abstracts(n: int) -> list[str]:
    if not SCIFACT.exists():
        pytest.skip(f"shared data not found at {SCIFACT}")
    with gzip.open(SCIFACT, "rt") as fh:
        return [json.loads(line)["text"] for line, _ in zip(fh, range(n), strict=False)]


def test_marks_the_same_words_as_analysing_every_word() -> None:
    rng = random.Random(3)
    texts = _abstracts(400)
    vocabulary = sorted({w for t in texts for w in re.findall(r"\w+", t)})
    for text in texts:
        own = re.findall(r"\w+", text)
        words = rng.sample(own, min(3, len(own))) + rng.sample(vocabulary, 3)
        terms = {t for t in map(_analyze_word, words) if t}
        assert make_snippet(text, terms, _analyze_word) == make_snippet(
            text, terms | {NOT_ASCII}, _analyze_word
        )


@pytest.mark.parametrize(
    ("text", "query", "marked"),
    [
        ("Dying cells and lying data", "die lie", ["Dying", "lying"]),
        ("Relational models generalize", "relations generalization", ["Relational", "generalize"]),
        ("the _4 token and x2_y", "4 x2", ["_4", "x2_y"]),
        ("İstanbul and Ωmega", "istanbul ωmega", ["Ωmega"]),
    ],
)
def test_stems_that_change_the_word_end_and_unusual_tokens(
    text: str, query: str, marked: list[str]
) -> None:
    terms = {t for t in map(_analyze_word, query.split()) if t}
    snippet = make_snippet(text, terms, _analyze_word)
    assert re.findall(r"<mark>(.*?)</mark>", snippet.html) == marked
    assert snippet == make_snippet(text, terms | {NOT_ASCII}, _analyze_word)
