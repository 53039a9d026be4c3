"""Refused request parameters are told in sentences (pages and APIs alike), not in pydantic's
words ("page: Input should be less than or equal to 50")."""

from typing import Any

import pytest

from paperfeed.http.errors import readable_problem


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            {"type": "less_than_equal", "loc": ("query", "page"), "ctx": {"le": 50}},
            "The page number must be at most 50.",
        ),
        (
            {"type": "less_than_equal", "loc": ("query", "offset"), "ctx": {"le": 10_000}},
            "The offset must be at most 10,000.",
        ),
        (
            {"type": "greater_than_equal", "loc": ("query", "limit"), "ctx": {"ge": 1}},
            "The number of results must be at least 1.",
        ),
        (
            {
                "type": "string_pattern_mismatch",
                "loc": ("query", "sort"),
                "ctx": {"pattern": "^(relevance|date)$"},
            },
            "The sort order must be “relevance” or “date”.",
        ),
        (
            {
                "type": "literal_error",
                "loc": ("query", "mode"),
                "ctx": {"expected": "'hybrid', 'lexical' or 'dense'"},
            },
            "“mode” must be 'hybrid', 'lexical' or 'dense'.",
        ),
        (
            {"type": "int_parsing", "loc": ("query", "page")},
            "The page number must be a whole number.",
        ),
        (
            {"type": "string_too_long", "loc": ("query", "q"), "ctx": {"max_length": 2000}},
            "The query is too long (at most 2,000 characters).",
        ),
        ({"type": "missing", "loc": ("body", "paper")}, "“paper” is required."),
        ({"type": "json_invalid", "loc": ("body", 0)}, "The request body must be a JSON object."),
        (
            {"type": "value_error", "loc": ("query", "since"), "msg": "Value error, not a day."},
            "The first date is not valid: not a day.",
        ),
    ],
)
def test_validation_errors_read_as_sentences(error: dict[str, Any], sentence: str) -> None:
    assert readable_problem(error) == sentence
