"""The HTTP layer above the two sibling channels `web` (pages, feeds) and `api` (JSON): the
app factory (`paperfeed.http.app.create_app`), the typed request dependencies both take
(`deps`), the one mapping from domain errors to HTTP answers (`errors`) and request hygiene
(`security`). `web` and `api` import from here and from the services, never from each other."""
