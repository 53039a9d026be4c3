"""Recommendations ("For you"): a per-reader model over the paper vectors and words the
search index holds (service.Recommender), and its evaluation (`paperfeed eval recsys`)."""
