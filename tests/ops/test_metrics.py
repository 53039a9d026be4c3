"""Prometheus metrics: search stages and mail are counted. `paperfeed serve --workers 2` with
PAPERFEED_METRICS_PORT (both processes' counts added up on the metrics port, not on the public
one; imports and the index lag read from the catalog) is checked in tests/test_serve.py, in
the one run of two server processes that also checks how they share the port and
PAPERFEED_LOG_FORMAT=json (starting two server processes takes seconds)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from paperfeed.mail.service import MailError, compose
from paperfeed.runtime import Runtime
from tests.support.server import free_port


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_search_stages_and_mail_are_counted(lexical_runtime: Runtime) -> None:
    runtime = lexical_runtime
    counted = Runtime(
        runtime.settings.model_copy(
            update={"metrics_port": free_port(), "embedder": "none", "smtp_host": None}
        )
    )
    try:
        total = _count("paperfeed_search_stage_duration_seconds_count", stage="total")
        lexical = _count("paperfeed_search_stage_duration_seconds_count", stage="lexical")
        counted.search.search("graph neural networks", mode="lexical")
        assert _count("paperfeed_search_stage_duration_seconds_count", stage="total") == total + 1
        assert (
            _count("paperfeed_search_stage_duration_seconds_count", stage="lexical") == lexical + 1
        )

        sent = _count("paperfeed_mail_messages_total", outcome="sent")
        counted.mailer.send(compose("a@example.org", "b@example.org", "hello", "text"))
        assert _count("paperfeed_mail_messages_total", outcome="sent") == sent + 1
    finally:
        counted.close()
    failing = Runtime(
        runtime.settings.model_copy(
            update={"metrics_port": free_port(), "smtp_host": "127.0.0.1", "smtp_port": free_port()}
        )
    )
    try:
        failed = _count("paperfeed_mail_messages_total", outcome="failed")
        with pytest.raises(MailError):
            failing.mailer.send(compose("a@example.org", "b@example.org", "hello", "text"))
        assert _count("paperfeed_mail_messages_total", outcome="failed") == failed + 1
    finally:
        failing.close()
