"""Importers: one module per source format, the registry of formats, a shared runner, the
snapshot's bulk loader, and the OAI-PMH harvester."""
