"""Scenario files: given contacts, when events and ticks, then the expected outcome.

See :mod:`crmkit.scenarios.model` for the format and :mod:`crmkit.scenarios.runner` for
running them (``crmkit rules test``, or pytest, which collects ``*.scenarios.yaml``).
"""

from crmkit.scenarios.model import Scenario, load_scenarios, read_scenarios
from crmkit.scenarios.runner import ScenarioResult, ScenarioRunner

__all__ = ["Scenario", "ScenarioResult", "ScenarioRunner", "load_scenarios", "read_scenarios"]
