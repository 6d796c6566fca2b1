"""Test support for crmkit users: a movable clock, scratch databases and the pytest
plugin (:mod:`crmkit.testing.pytest_plugin`, loaded automatically by pytest)."""

from crmkit.clock import MovableClock
from crmkit.testing.databases import postgres_schema, snapshot

__all__ = ["MovableClock", "postgres_schema", "snapshot"]
