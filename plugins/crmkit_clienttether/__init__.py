"""The ClientTether pack: the contact profile's fields, message templates and the rules
that schedule a new web lead's first texts, email and calls.

The profile itself (custom fields, tags, phone check and OK to SMS, duplicate, archive,
upcoming actions, texts and emails) is crmkit's core; this pack declares ClientTether's
fields (:mod:`crmkit_clienttether.fields`) and ships the rules and templates in
``pack/`` (described by ``pack/pack.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib.resources import files

from crmkit.plugin_api import Pack, hookimpl, load_pack
from crmkit_clienttether.fields import FIELDS


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    # The fields are Python (grouped by profile section in fields.py), the rest is the
    # manifest.
    register(replace(load_pack(files("crmkit_clienttether").joinpath("pack")), fields=FIELDS))
