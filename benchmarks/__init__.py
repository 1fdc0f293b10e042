"""Benchmarks of fairmtl against its peers; run ``python -m benchmarks --help``."""
