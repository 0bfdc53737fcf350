"""Datasets: the canonical on-disk format, loaders, the synthetic twins and the real-data converters."""
