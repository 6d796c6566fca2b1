"""Where the benchmarks find PostgreSQL: CRMKIT_BENCH_POSTGRES_URL, else the tests' URL."""

from __future__ import annotations

import os


def postgres_url() -> str | None:
    """A SQLAlchemy URL (psycopg 3) for PostgreSQL, or None to skip those runs."""
    url = os.environ.get("CRMKIT_BENCH_POSTGRES_URL") or os.environ.get("CRMKIT_TEST_POSTGRES_URL")
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
