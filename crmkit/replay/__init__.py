"""Replaying a tenant's history: rebuild it exactly, or simulate other packs on it."""

from crmkit.replay.runner import ContactDifference, ReplayResult, ValueDifference, replay

__all__ = ["ContactDifference", "ReplayResult", "ValueDifference", "replay"]
