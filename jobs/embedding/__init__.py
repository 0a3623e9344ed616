"""Helpers every embedder shares that are not stores: query batching and model path resolution."""
