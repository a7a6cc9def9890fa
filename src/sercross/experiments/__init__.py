"""Experiments on the cache: pairs of corpora, runs, benchmark grids and their tables."""
