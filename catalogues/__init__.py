"""Ingestion of supplier catalogues: read through mapping profiles, normalise, classify."""
