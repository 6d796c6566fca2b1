"""The shape of a ruleset file, as pydantic models (validated before compiling).

```yaml
description: How contact types move on their own
rules:
  - name: lead form makes a hot lead
    when: event.kind == lead_form_submitted
    priority: 100          # optional; lower runs first, default 100
    then:
      - set: {contact_type: hot_lead}
  - name: quiet hot leads go cold
    trigger: tick          # evaluated over all contacts when `crmkit tick` runs
    when: contact.contact_type == hot_lead and not had_event within {cold_after_days:60} days
    then:
      - set: {contact_type: cold_prospect}
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_PRIORITY = 100


class RuleDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    when: str = Field(min_length=1)
    then: list[dict[str, Any]] = Field(min_length=1)
    priority: int = DEFAULT_PRIORITY
    description: str = ""
    # "event": matched against each recorded event. "tick": evaluated over all contacts
    # as SQL when `crmkit tick` runs; may use {setting:default} placeholders. (Not named
    # "on": YAML reads an `on:` key as the boolean true.)
    trigger: Literal["event", "tick"] = "event"

    @field_validator("then")
    @classmethod
    def _one_action_per_item(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for position, item in enumerate(value, start=1):
            if len(item) != 1:
                raise ValueError(
                    f"action {position} must have exactly one key (the action name), "
                    f"got {sorted(item) or 'none'}"
                )
        return value


class RulesetDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    rules: list[RuleDefinition] = Field(min_length=1)
