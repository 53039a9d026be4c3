"""paperfeed: a self-hostable research-paper discovery service."""

import os

# One OpenBLAS thread per process unless the environment says otherwise (it must be set before
# numpy loads): the server answers requests in threads and processes of its own, and on a
# 2-core box BLAS threads only fought them; the "For you" ranking after a reader's action
# took p95 124 ms with OpenBLAS's default threads and 70 ms with one (bench/README.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
