"""Multilingual text analysers for full-text search (Korean, Chinese, Japanese, English).

Documents and queries are normalised (NFKC, casefold, control characters stripped), split
into script runs and analysed per language: Kiwi (ko), OpenCC t2s + jieba (zh), Sudachi (ja),
Snowball + number/HS-code tokens (Latin). The output is pre-tokenised text for SQLite FTS5
(see ranking.py) or any whitespace-tokenised index.

    >>> from entrepot.search.analyzers import get_analyzer
    >>> get_analyzer("multilingual").query_tokens("HS 8703 승용차 輸出 price")
    ['승용차', '输出', 'hs', '8703', 'price']

Heavy analysers load lazily, once per process, and are shared between threads.
"""

from __future__ import annotations

from .base import Analyzer, Lazy, available_analyzers, get_analyzer, register
from .bulk import ParallelAnalyzer, analyze_many
from .chinese import ChineseAnalyzer, fold_traditional
from .japanese import JapaneseAnalyzer
from .korean import KoreanAnalyzer
from .latin import LatinAnalyzer
from .multilingual import AnalyzerConfig, IndexedText, MultilingualAnalyzer
from .normalize import normalize
from .ranking import (
    DEFAULT_WEIGHTS,
    FTS5_TOKENIZE,
    RankingWeights,
    build_match_expression,
    create_fts_table,
    insert_documents,
    quote_token,
    ranked_sql,
    search_fts,
    sql_params,
)
from .scripts import Script, dominant_language, script_counts, segments

__all__ = [
    "Analyzer",
    "AnalyzerConfig",
    "ChineseAnalyzer",
    "DEFAULT_WEIGHTS",
    "FTS5_TOKENIZE",
    "IndexedText",
    "JapaneseAnalyzer",
    "KoreanAnalyzer",
    "LatinAnalyzer",
    "Lazy",
    "MultilingualAnalyzer",
    "ParallelAnalyzer",
    "RankingWeights",
    "Script",
    "analyze_many",
    "available_analyzers",
    "build_match_expression",
    "create_fts_table",
    "dominant_language",
    "fold_traditional",
    "get_analyzer",
    "insert_documents",
    "normalize",
    "quote_token",
    "ranked_sql",
    "register",
    "script_counts",
    "search_fts",
    "segments",
    "sql_params",
]

# The analysers themselves are cheap objects; the models they use (Kiwi, jieba, Sudachi) are
# module-level Lazy singletons, loaded on first use.
register("ko", KoreanAnalyzer)
register("zh", ChineseAnalyzer)
register("ja", JapaneseAnalyzer)
register("en", LatinAnalyzer)
register("multilingual", MultilingualAnalyzer)
