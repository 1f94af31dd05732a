"""Compliance: lexicon matching (same analysers as search), flags, the review queue."""
