"""A reader's library: collections of saved papers with notes, read and "not interested"
marks, follows (authors, categories, saved searches) with their feeds, and what the
recommender learns from them (signals.py). Private to its reader unless a collection is made
public."""
