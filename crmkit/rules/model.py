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
    allow:                 # optional; checker findings reviewed, each with its reason
      - conflict: the lifecycle pack's rule runs first on purpose
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_PRIORITY = 100
# The checker findings a rule may acknowledge (errors and broken templates it may not).
ALLOWABLE = ("conflict", "never-fires", "refused", "unknown-facet", "engine-limit")


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
    # Checker findings the author has reviewed: [{conflict: why it is fine}]; shown by
    # `rules check` as acknowledged, not failing it. A reason is required.
    allow: list[dict[str, str]] = Field(default_factory=list)

    @field_validator("allow", mode="before")
    @classmethod
    def _reason_given(cls, value: Any) -> Any:
        for position, item in enumerate(value if isinstance(value, list) else [], start=1):
            if isinstance(item, str):
                raise ValueError(
                    f"allow item {position} needs a reason: write {{{item}: why it is fine}}"
                )
        return value

    @field_validator("allow")
    @classmethod
    def _one_kind_and_reason(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        for position, item in enumerate(value, start=1):
            if len(item) != 1:
                raise ValueError(
                    f"allow item {position} must have exactly one key (a finding's kind: "
                    f"{', '.join(ALLOWABLE)}) with the reason as its value"
                )
            ((kind, reason),) = item.items()
            if kind not in ALLOWABLE:
                raise ValueError(
                    f"allow item {position}: {kind!r} is not a finding that can be "
                    f"acknowledged (kinds: {', '.join(ALLOWABLE)})"
                )
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError(
                    f"allow item {position} ({kind}) needs a reason: {{{kind}: why it is fine}}"
                )
        return value

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
