"""Embedders turn text into L2-normalised vectors. The catalog stores vectors with the
embedder's `name` (model@version), so a model change is detected and triggers re-embedding."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    name: str  # "model@version"; changes whenever vectors would change
    dim: int
    # Weight of this model's scores in the hybrid blend (chosen on SciFact's train queries).
    fusion_weight: float
    # Abstracts embedded per second on 2 cores (bench/README.md), for time estimates.
    documents_per_second: float

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


def document_text(title: str, abstract: str) -> str:
    """What is embedded for a paper (title and abstract, as on SciFact's corpus)."""
    return f"{title}. {abstract}" if abstract else title


def normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = (vectors / norms).astype(np.float32)
    return normalised


class EmbedderUnavailable(RuntimeError):
    """The configured model cannot be loaded (its package is missing)."""


def package_dir(name: str, install: str) -> Path:
    """Where an installed package that ships model files lives, found without importing it;
    `install` says how to get it when it is missing."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"the embedding model needs the Python package {name!r} ({install}), "
            "or set PAPERFEED_EMBEDDER=none"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def load_embedder(name: str, cache_dir: Path) -> Embedder | None:
    if name == "none":
        return None
    if name == "minilm":
        from paperfeed.search.minilm import MiniLMEmbedder

        return MiniLMEmbedder.load(cache_dir)
    if name == "wordllama":
        from paperfeed.search.wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder.load(cache_dir)
    raise EmbedderUnavailable(f"unknown embedder {name!r} (choose 'minilm', 'wordllama' or 'none')")
