"""Reads for pages and the API. Every list filters by the policy's SQL clause inside the query."""
