"""The catalog of papers: identifiers, text normalisation, records and the catalog service."""
