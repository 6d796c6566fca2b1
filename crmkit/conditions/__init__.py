"""The condition language shared by rules and searches."""

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or
from crmkit.conditions.parser import Schema, parse_condition

__all__ = ["And", "Compare", "Has", "In", "Node", "Or", "Schema", "parse_condition"]
