"""Replaying a tenant's history: rebuild it exactly, or simulate other packs on it."""

from crmkit.replay.compare import ContactDifference, ValueDifference
from crmkit.replay.runner import ReplayResult, replay

__all__ = ["ContactDifference", "ReplayResult", "ValueDifference", "replay"]
