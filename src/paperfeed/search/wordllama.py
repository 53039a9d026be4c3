"""WordLlama: a static embedding model, the fast mode of search by meaning.

A paper's vector is the mean of its tokens' rows in one 32,000 x 256 table (token embeddings
of Llama-2-family models, concatenated and trained down to 256 dimensions by WordLlama's
author). No network runs, so it embeds thousands of abstracts a second on one core, for less
quality than MiniLM (SciFact figures in the README).

The table (float16 safetensors) and the tokenizer come from the PyPI package `wordllama`
(MIT), read from its directory in site-packages: the package itself is not imported (its
loader looks for the tokenizer in a folder the wheel does not have and then downloads it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from paperfeed.search.embedder import EmbedderUnavailable, Vectors, normalise, package_dir

PACKAGE = "wordllama"
WEIGHTS_FILE = "weights/l2_supercat_256.safetensors"
TOKENIZER_FILE = "tokenizers/l2_supercat_tokenizer_config.json"
# Whole abstracts cost next to nothing here; the cap only bounds a pathological text.
MAX_TOKENS = 2048
BATCH = 512


def _load_table(path: Path, data: bytes) -> np.ndarray:
    from safetensors.numpy import load

    tensors = load(data)
    if len(tensors) != 1:
        raise EmbedderUnavailable(f"{path}: expected one embedding table, found {list(tensors)}")
    table = np.ascontiguousarray(next(iter(tensors.values())), dtype=np.float32)
    if table.ndim != 2:
        raise EmbedderUnavailable(f"{path}: the embedding table has shape {table.shape}")
    return table


class WordLlamaEmbedder:
    # Hybrid nDCG@10 on SciFact train: 0.7078 at 0.45 (MiniLM's weight), 0.7163 at 0.35.
    fusion_weight = 0.35
    documents_per_second = 3000.0

    def __init__(self, table: np.ndarray, tokenizer_path: Path, *, version: str) -> None:
        self._table = table
        self.dim = int(table.shape[1])
        self.name = f"wordllama-l2-supercat-{self.dim}@{version}"
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)

    @classmethod
    def load(cls, cache_dir: Path) -> WordLlamaEmbedder:
        del cache_dir  # nothing is derived from the shipped files
        package = package_dir(PACKAGE, "pip install wordllama safetensors")
        weights, tokenizer = package / WEIGHTS_FILE, package / TOKENIZER_FILE
        for path in (weights, tokenizer):
            if not path.is_file():
                raise EmbedderUnavailable(f"{path} is missing from its package")
        data = weights.read_bytes()  # read once: hashed for the version, then parsed
        digest = hashlib.sha256(data).hexdigest()[:12]
        return cls(_load_table(weights, data), tokenizer, version=digest)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Mean of each text's token rows. Row by row: a text's rows stay in cache, where one
        gather for a whole batch (hundreds of MB) was 10x slower."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            encodings = self._tokenizer.encode_batch(batch, add_special_tokens=False)
            for row, encoding in enumerate(encodings, start=start):
                if encoding.ids:
                    out[row] = self._table[encoding.ids].mean(axis=0)
        return normalise(out)

    def document_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens of each text a document embedding reads (after truncation)."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed_documents([text])[0]
        return vector
