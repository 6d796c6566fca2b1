"""The public plugin API: everything a crmkit plugin or pack imports, from one module.

crmkit's own first-party plugins (``crmkit_17hats``, ``crmkit_funnel``,
``crmkit_contacts``, ``crmkit_leadklozer``, ``crmkit_clienttether``) import only from
here, and an import-linter contract in the lint env keeps it so. A name exported here
keeps its meaning for a release at least; anything else in crmkit is internal and may
move. Example::

    from importlib.resources import files

    from crmkit.plugin_api import Facet, FacetValue, Pack, hookimpl, load_pack

    STAGE = Facet("stage", [FacetValue("new"), FacetValue("won", colour="green")])

    @hookimpl
    def crmkit_register_facets(register):
        register(STAGE)

    @hookimpl
    def crmkit_register_packs(register):
        register(load_pack(files("my_plugin") / "pack"))

What is here, by concern:

* hooks: :data:`hookimpl` (the hookspecs are documented in the hooks reference);
* what a plugin registers: :class:`Facet`, :class:`FacetValue`, :class:`Pack`,
  :func:`load_pack`, :class:`ActionSpec`, :class:`Setting`, :class:`FieldSpec`;
* what actions and hooks propose: the change types (:class:`SetFacet`, :class:`AddTag`,
  :class:`RemoveTag`, :class:`AddScore`, :class:`SetScore`, :class:`Schedule`), the
  :class:`RuleContext` an action gets and the :class:`ChangeContext` a hook gets;
* the facade and what it returns: :class:`CRM`, :class:`Tenant`, :class:`ContactOut`,
  :class:`TransitionOut`;
* errors: :class:`CRMError` and its kinds;
* the plugin's own tables: :class:`Base` (one metadata for every crmkit table),
  :class:`TenantScope` (the only place that adds ``tenant_id`` to a query),
  :class:`UTCDateTime`, :func:`allocate_id`, and the core tables a plugin may join
  (:class:`ContactRow`, :class:`ContactFacetRow`, :class:`EventRow`,
  :class:`TransitionRow`, :class:`TenantRow`);
* bulk writes: :class:`BulkWriter`, :func:`one_of` (a ``column IN (...)`` test of at
  most :data:`ROWS_PER_ROUND` values), :func:`ids_by_name`;
* imports and exports: :class:`TransferColumn` (``crmkit_register_transfer_columns``);
* conditions: :class:`Schema`, :func:`build_filter`, :func:`quote`;
* erasure: :data:`ERASED`, :func:`erased_literals`, :func:`literal_pattern`;
* commands (``crmkit_register_commands``): :data:`JSON_OPTION`, :func:`current_tenant`,
  :func:`current_crm`, :func:`fail`, :data:`console`, :func:`print_json`,
  :func:`printable`, :func:`line`, :func:`coloured`, :func:`facet_colours`,
  :func:`contacts_table`, :func:`current_context` (the global options);
* templates: :func:`render_pack_template` (a pack's template, sandboxed).
"""

from __future__ import annotations

from crmkit.changes import ChangeContext, Notice
from crmkit.cli.context import JSON_OPTION, current_context, current_crm, current_tenant, fail
from crmkit.cli.output import (
    coloured,
    console,
    contacts_table,
    facet_colours,
    line,
    print_json,
    printable,
)
from crmkit.conditions.parser import Schema
from crmkit.core import CRM
from crmkit.erasure import ERASED, erased_literals, literal_pattern
from crmkit.errors import (
    ActionError,
    BusyError,
    ConditionError,
    ConfigError,
    CRMError,
    NotFoundError,
    PluginError,
    PolicyError,
    RulesetError,
    ValidationError,
)
from crmkit.facets import Facet, FacetValue
from crmkit.field_types import FieldSpec
from crmkit.filters import build_filter, quote
from crmkit.manifests import load_pack
from crmkit.markers import hookimpl
from crmkit.packs import Pack
from crmkit.rules.actions import (
    ActionSpec,
    AddScore,
    AddTag,
    Change,
    RemoveTag,
    RuleContext,
    Schedule,
    SetFacet,
    SetScore,
)
from crmkit.schemas import ContactOut, IngestSummary, TransitionOut
from crmkit.settings import Setting
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.counters import allocate as allocate_id
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import (
    Base,
    ContactFacetRow,
    ContactRow,
    EventRow,
    TenantRow,
    TransitionRow,
)
from crmkit.storage.scope import TenantScope
from crmkit.storage.types import UTCDateTime
from crmkit.templating import render_pack_template
from crmkit.tenant import Tenant
from crmkit.transfer.columns import TransferColumn
from crmkit.transfer.lookups import ids_by_name

__all__ = [
    "CRM",
    "ERASED",
    "JSON_OPTION",
    "ROWS_PER_ROUND",
    "ActionError",
    "ActionSpec",
    "AddScore",
    "AddTag",
    "Base",
    "BulkWriter",
    "BusyError",
    "CRMError",
    "Change",
    "ChangeContext",
    "ConditionError",
    "ConfigError",
    "ContactFacetRow",
    "ContactOut",
    "ContactRow",
    "EventRow",
    "Facet",
    "FacetValue",
    "FieldSpec",
    "IngestSummary",
    "NotFoundError",
    "Notice",
    "Pack",
    "PluginError",
    "PolicyError",
    "RemoveTag",
    "RuleContext",
    "RulesetError",
    "Schedule",
    "Schema",
    "SetFacet",
    "SetScore",
    "Setting",
    "Tenant",
    "TenantRow",
    "TenantScope",
    "TransferColumn",
    "TransitionOut",
    "TransitionRow",
    "UTCDateTime",
    "ValidationError",
    "allocate_id",
    "build_filter",
    "coloured",
    "console",
    "contacts_table",
    "current_context",
    "current_crm",
    "current_tenant",
    "erased_literals",
    "facet_colours",
    "fail",
    "hookimpl",
    "ids_by_name",
    "line",
    "literal_pattern",
    "load_pack",
    "one_of",
    "print_json",
    "printable",
    "quote",
    "render_pack_template",
]
