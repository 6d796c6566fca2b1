"""The ClientTether pack: the contact profile's fields, message templates and the rules
that schedule a new web lead's first texts, email and calls.

The profile itself (custom fields, tags, phone check and OK to SMS, duplicate, archive,
upcoming actions, texts and emails) is crmkit's core; this pack declares ClientTether's
fields (:mod:`crmkit_clienttether.fields`) and ships ``rulesets/clienttether`` and
``templates/clienttether``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from crmkit import hookimpl
from crmkit.packs import Pack
from crmkit_clienttether.fields import FIELDS


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(
        Pack(
            name="clienttether",
            version="1.0.0",
            rulesets=(files("crmkit.rulesets").joinpath("clienttether").joinpath("plan.yaml"),),
            scenarios=(
                files("crmkit.rulesets").joinpath("clienttether").joinpath("plan.scenarios.yaml"),
            ),
            templates=files("crmkit.templates").joinpath("clienttether"),
            fields=FIELDS,
            search_keys=("channel", "direction"),
            description="ClientTether contact profiles: fields, texts, emails, action plan",
        )
    )
