"""The fast mode: the static WordLlama model shipped in the `wordllama` wheel."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest

from paperfeed.config import Settings
from paperfeed.ingest.runner import write_batch
from paperfeed.runtime import Runtime
from paperfeed.search import wordllama
from paperfeed.search.embedder import EmbedderUnavailable, load_embedder
from paperfeed.search.evaluation import evaluate_beir
from paperfeed.search.wordllama import WordLlamaEmbedder
from tests.search.test_embedder import TEXTS
from tests.search.test_indexer import PAPERS

LONG = "Self-supervised pretraining for speech recognition with little labelled data. " * 400


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> WordLlamaEmbedder:
    loaded = load_embedder("wordllama", tmp_path_factory.mktemp("models"))
    assert isinstance(loaded, WordLlamaEmbedder)
    return loaded


def test_related_texts_are_closer_than_unrelated_ones(embedder: WordLlamaEmbedder) -> None:
    query = embedder.embed_query("neural machine translation with transformers")
    related = embedder.embed_documents([TEXTS[0]])[0]  # a transformer paper
    unrelated = embedder.embed_documents(["sourdough bread recipe with rye flour"])[0]
    assert float(query @ related) > float(query @ unrelated) + 0.1


def test_an_empty_text_gives_a_zero_vector_not_nan(embedder: WordLlamaEmbedder) -> None:
    vectors = embedder.embed_documents(["", "x"])
    assert np.isfinite(vectors).all()
    assert np.linalg.norm(vectors, axis=1).tolist() == pytest.approx([0.0, 1.0], abs=1e-5)


def test_long_texts_are_capped(embedder: WordLlamaEmbedder) -> None:
    short, long = embedder.document_tokens(["Protein folding", LONG])
    assert 0 < short < 10 and long == wordllama.MAX_TOKENS


def test_a_missing_package_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(wordllama, "PACKAGE", "wordllama_not_installed")
    with pytest.raises(EmbedderUnavailable, match="pip install wordllama"):
        load_embedder("wordllama", tmp_path)


def test_switching_models_re_embeds_with_the_new_dimension(settings: Settings) -> None:
    first = Runtime(settings)
    try:
        write_batch(first.engine, first.catalog_writer, PAPERS)
        first.indexer().update()
        assert first.search_store.meta.model.startswith("all-MiniLM")
    finally:
        first.close()
    second = Runtime(settings.model_copy(update={"embedder": "wordllama"}))
    try:
        report = second.indexer().update()
        assert report.embedded == report.vectors == len(PAPERS)
        assert second.search_store.meta.model.startswith("wordllama-l2-supercat-256@")
        hits = second.search.search("folding proteins", mode="dense").hits
        assert hits and hits[0].title == "Protein folding with deep learning"
    finally:
        second.close()


def test_the_fast_mode_adds_to_words_on_scifact(data_dir: Path, tmp_path: Path) -> None:
    """The direction the README reports, on a third of SciFact's test queries over a third of
    its corpus (their relevant abstracts and every third other one): meaning by the static
    model lifts hybrid search above words alone."""
    folder = tmp_path / "scifact"
    (folder / "qrels").mkdir(parents=True)
    source = data_dir / "beir/scifact"
    lines = (source / "qrels/test.tsv").read_text().splitlines()
    queries = sorted({line.split("\t")[0] for line in lines[1:]})[::3]
    keep = set(queries)
    kept = [ln for ln in lines[1:] if ln.split("\t")[0] in keep]
    relevant = {ln.split("\t")[1] for ln in kept}
    with gzip.open(source / "corpus.jsonl.gz", "rb") as corpus:
        documents = corpus.read().splitlines()
    chosen = [
        line
        for number, line in enumerate(documents)
        if number % 3 == 0 or orjson.loads(line)["_id"] in relevant
    ]
    (folder / "corpus.jsonl").write_bytes(b"\n".join(chosen) + b"\n")
    (folder / "queries.jsonl").write_bytes((source / "queries.jsonl").read_bytes())
    (folder / "qrels/test.tsv").write_text("\n".join([lines[0], *kept]) + "\n")
    metrics = evaluate_beir(folder, settings=Settings(home=tmp_path, embedder="wordllama"))
    assert metrics["dense"]["ndcg@10"] > 0.4
    assert metrics["hybrid"]["ndcg@10"] > metrics["lexical"]["ndcg@10"]
