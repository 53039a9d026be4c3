"""Server-rendered pages, forms and Atom feeds (routers mounted by `paperfeed.http.app`)."""
