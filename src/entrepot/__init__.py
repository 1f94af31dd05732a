"""Entrepot: trade-document library, classified holdings and trade messenger."""

__version__ = "0.1.0"
