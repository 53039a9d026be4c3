"""Importers: one module per source format, a shared runner, and the OAI-PMH harvester."""
