"""Hybrid search: query language, lexical BM25 index, dense vectors, fusion, SearchService."""
