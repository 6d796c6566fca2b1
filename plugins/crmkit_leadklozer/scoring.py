"""The Smart Score, declared in ``pack/scoring.yaml``.

The Smart Score's engagement share at a moment T is the sum, over a contact's recorded
engagements, of each engagement's points times its aging weight at T (full until it
expires, or halved every half-life; an engagement dated after T counts in full). The
contact's status adds its points. New engagements add their full points when recorded;
``crmkit tick`` ages them (:mod:`crmkit_leadklozer.score_state`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PrivateAttr, model_validator

from crmkit.plugin_api import ConfigError


class Aging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expire_after_days: PositiveFloat | None = None
    half_life_days: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one(self) -> Aging:
        if (self.expire_after_days is None) == (self.half_life_days is None):
            raise ValueError("give either expire_after_days or half_life_days")
        return self

    def weight(self, age_days: float) -> float:
        age = max(age_days, 0.0)
        if self.expire_after_days is not None:
            return 1.0 if age < self.expire_after_days else 0.0
        assert self.half_life_days is not None
        return float(0.5 ** (age / self.half_life_days))


class Engagement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: float
    channels: dict[str, dict[str, float]] = Field(default_factory=dict)


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engagement: Engagement
    status: dict[str, float]
    aging: dict[str, Aging]
    _classes: dict[tuple[str, str], tuple[float, str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Scoring:
        if "default" not in self.aging:
            raise ValueError("aging needs a 'default' entry")
        if self.status.get("neutral", 0) != 0:
            raise ValueError("the default status (neutral) must be worth 0 points")
        return self

    def points(self, data: Mapping[str, Any]) -> float:
        channel = str(data.get("channel", ""))
        kind = str(data.get("kind", ""))
        table = self.engagement.channels.get(channel)
        if table is None:
            return self.engagement.default
        return table.get(kind, table.get("default", self.engagement.default))

    def aging_key(self, data: Mapping[str, Any]) -> str:
        """The name of the aging entry an engagement follows (its half-life class)."""
        channel = str(data.get("channel", ""))
        kind = str(data.get("kind", ""))
        for key in (f"{channel}/{kind}", kind, channel):
            if key in self.aging:
                return key
        return "default"

    def aging_of(self, data: Mapping[str, Any]) -> Aging:
        return self.aging[self.aging_key(data)]

    def classify(self, data: Mapping[str, Any]) -> tuple[float, str]:
        """An engagement's points and aging entry, remembered per (channel, kind): the
        tick classifies every new engagement and a rebuild the whole log."""
        key = (str(data.get("channel", "")), str(data.get("kind", "")))
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = (self.points(data), self.aging_key(data))
        return found

    def half_lives(self) -> dict[str, float]:
        """The half-life in days of each aging entry that decays."""
        return {k: a.half_life_days for k, a in self.aging.items() if a.half_life_days}

    def fingerprint(self) -> str:
        """Changes when the points or the aging change: the score state is then rebuilt."""
        text = self.model_dump_json(include={"engagement", "aging"})
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def worth(self, data: Mapping[str, Any], occurred_at: datetime, at: datetime) -> float:
        age_days = (at - occurred_at).total_seconds() / 86400
        return self.points(data) * self.aging_of(data).weight(age_days)

    def status_points(self, status: str | None) -> float:
        return self.status.get(status or "neutral", 0.0)


@lru_cache(maxsize=1)
def scoring() -> Scoring:
    resource = files("crmkit_leadklozer").joinpath("pack").joinpath("scoring.yaml")
    try:
        return Scoring.model_validate(yaml.safe_load(resource.read_text("utf-8")))
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"leadklozer scoring.yaml is invalid: {exc}") from None
