"""Search beside the data: our analysers' tokens in SQLite FTS5 or PostgreSQL GIN-indexed tsvectors,
BM25 ranking identical on both, the access policy inside the query."""
