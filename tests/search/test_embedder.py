"""The packaged embedding models: vectors depend only on the text, never on its batch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from paperfeed.search.embedder import Embedder, load_embedder
from paperfeed.search.minilm import MAX_TOKENS, MiniLMEmbedder
from tests.support.models import SessionModels

TEXTS = [
    "Attention is all you need. The dominant sequence transduction models are based on "
    "complex recurrent or convolutional neural networks in an encoder-decoder configuration.",
    "Protein folding",
    "Self-supervised pretraining for speech recognition with little labelled data. " * 12,
    "Quantum error correction with surface codes $d=5$ and $\\alpha$-particles",
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    loaded = load_embedder("minilm", tmp_path_factory.mktemp("models"))
    assert isinstance(loaded, MiniLMEmbedder)
    return loaded


@pytest.fixture(scope="module", params=["minilm", "wordllama"])
def any_embedder(request: pytest.FixtureRequest, session_models: SessionModels) -> Embedder:
    """The model as the real loader gives it, prepared once for the run (`embedder` above
    is prepared anew, from the packaged files, by the loader under test)."""
    loaded = session_models.real(request.param)
    assert loaded is not None
    return loaded


def test_a_vector_does_not_depend_on_the_other_texts_of_its_batch(any_embedder: Embedder) -> None:
    batch = sys.modules[type(any_embedder).__module__].BATCH
    alone = np.stack([any_embedder.embed_documents([text])[0] for text in TEXTS])
    many = [*TEXTS * (batch // len(TEXTS) + 3)]  # several batches (MiniLM: several sessions)
    together = any_embedder.embed_documents(many)
    assert together.shape == (len(many), any_embedder.dim)
    for row, text in enumerate(many):
        np.testing.assert_allclose(together[row], alone[TEXTS.index(text)], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_a_short_document_and_the_same_query_embed_alike(embedder: MiniLMEmbedder) -> None:
    text = "graph neural networks for molecule property prediction"
    document = embedder.embed_documents([text])[0]
    query = embedder.embed_query(text)
    assert float(document @ query) == pytest.approx(1.0, abs=1e-5)
    other = embedder.embed_query("a recipe for sourdough bread")
    assert float(document @ other) < 0.5


def test_documents_are_truncated_to_the_model_window(embedder: MiniLMEmbedder) -> None:
    counts = embedder.document_tokens([TEXTS[1], TEXTS[2]])
    assert counts[0] < 10
    assert counts[1] == MAX_TOKENS


def test_no_texts_give_an_empty_matrix(any_embedder: Embedder) -> None:
    assert any_embedder.embed_documents([]).shape == (0, any_embedder.dim)
