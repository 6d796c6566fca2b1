"""The CRM object: plugins, registries, compiled packs, database and tenants."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pluggy
from sqlalchemy import Connection, delete, func, insert, literal, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from crmkit.clock import Clock, utc_now
from crmkit.conditions.macros import MacroRegistry
from crmkit.conditions.parser import Schema
from crmkit.context import TenantContext
from crmkit.errors import ConfigError, CRMError, NotFoundError, PluginError
from crmkit.facets import Facet, FacetRegistry
from crmkit.field_types import FieldSpec
from crmkit.hooks import Hooks, PermitCheck
from crmkit.packs import Pack, PackRegistry, parse_spec
from crmkit.plugins import DEFAULT_PLUGINS, build_plugin_manager
from crmkit.rules.actions import ActionRegistry, ActionSpec
from crmkit.rules.compiler import CompiledRuleset, compile_pack
from crmkit.rules.engine import RuleEngine, make_rule_engine
from crmkit.rules.tick_settings import check_tick_rules
from crmkit.runtime import TenantRuntime
from crmkit.settings import SettingRegistry
from crmkit.storage.db import (
    DEFAULT_URL,
    at_heads,
    current_heads,
    current_revision,
    make_engine,
    upgrade,
)
from crmkit.storage.migrations import migration_location
from crmkit.storage.models import (
    ContactFacetRow,
    ContactRow,
    CounterRow,
    CustomFieldRow,
    PackChangeRow,
    TenantPackRow,
    TenantRow,
)
from crmkit.storage.statistics import ensure_search_statistics
from crmkit.tenant import Tenant
from crmkit.transfer.columns import ColumnRegistry

__all__ = ["CRM", "PermitCheck", "pack_fields", "record_pack_changes"]


def pack_fields(packs: Sequence[Pack]) -> dict[str, FieldSpec]:
    """The profile fields of a tenant's packs; two packs may share a field only as the
    same declaration."""
    fields: dict[str, FieldSpec] = {}
    owners: dict[str, str] = {}
    for pack in packs:
        for spec in pack.fields:
            known = fields.get(spec.name)
            if known is not None and known != spec:
                raise ConfigError(
                    f"packs {owners[spec.name]} and {pack.ref} declare field {spec.name!r} "
                    "differently"
                )
            fields.setdefault(spec.name, spec)
            owners.setdefault(spec.name, pack.ref)
    return fields


def record_pack_changes(
    conn: Connection,
    tenant_id: int,
    before: Mapping[str, str],
    after: Mapping[str, str],
    actor: str,
    now: datetime,
) -> None:
    """One ``pack_changes`` row per pack whose version was added, removed or moved."""
    changed = [
        (name, before.get(name), after.get(name))
        for name in dict.fromkeys([*before, *after])
        if before.get(name) != after.get(name)
    ]
    if not changed:
        return
    t = PackChangeRow.__table__.c
    last = conn.execute(select(func.max(t.seq)).where(t.tenant_id == tenant_id)).scalar() or 0
    conn.execute(
        insert(PackChangeRow),
        [
            {
                "tenant_id": tenant_id,
                "seq": last + i,
                "pack": name,
                "from_version": old,
                "to_version": new,
                "actor": actor,
                "at": now,
            }
            for i, (name, old, new) in enumerate(changed, start=1)
        ],
    )


def _create_tenant_row(
    conn: Connection, name: str, settings: Mapping[str, Any], now: datetime
) -> int:
    """Insert a new tenant with its id counters; return its id."""
    tenant_id: int = conn.execute(
        insert(TenantRow)
        .values(name=name, settings=settings, config_version=1, created_at=now)
        .returning(TenantRow.id)
    ).scalar_one()
    conn.execute(
        insert(CounterRow),
        [
            {"tenant_id": tenant_id, "name": counter, "value": 0}
            for counter in ("contact", "account", "project", "note", "event")
        ],
    )
    return tenant_id


def _update_tenant_row(
    conn: Connection,
    name: str,
    tenant_id: int,
    settings: Mapping[str, Any],
    declared: Mapping[str, FieldSpec],
) -> None:
    """Store merged settings, drop the old pack list (the caller writes the new one),
    and refuse custom fields named like the new packs' fields."""
    conn.execute(
        update(TenantRow)
        .where(TenantRow.id == tenant_id)
        .values(config_version=TenantRow.config_version + 1, settings=settings)
    )
    conn.execute(delete(TenantPackRow).where(TenantPackRow.tenant_id == tenant_id))
    cf = CustomFieldRow.__table__.c
    clash = conn.scalars(
        select(cf.name).where(cf.tenant_id == tenant_id, cf.name.in_(declared))
    ).all()
    if clash:
        raise ConfigError(
            f"tenant {name!r} has custom fields named like fields of its new "
            f"packs: {', '.join(sorted(clash))}"
        )


class CRM:
    """A CRM composed from the installed plugins, on one database.

    >>> crm = CRM("sqlite:///crm.db")
    >>> crm.migrate()
    >>> acme = crm.configure_tenant("acme", ["17hats"])
    >>> contact = acme.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    >>> acme.record_event(contact["id"], "lead_form_submitted")

    ``plugins`` are registered besides the installed (entry-point) plugins;
    ``clock`` decides what "now" is; ``engine`` picks the rules backend: ``"durable"``,
    ``"compiled"`` or an engine object (default: the ``CRMKIT_ENGINE`` setting, else
    durable_rules where it imports, else the compiled backend). ``plugin_manager`` is
    one already built with :func:`crmkit.plugins.build_plugin_manager` (the command line
    passes its own, so plugins load once); ``plugins``, ``load_entry_points`` and
    ``env`` then do not apply to plugin loading. ``packs`` are packs loaded from folders
    (:func:`crmkit.manifests.load_pack`) that take the place of the installed pack of
    the same name and version: a vendor's working copy under test.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        clock: Clock = utc_now,
        engine: RuleEngine | str | None = None,
        env: Mapping[str, str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        packs: Iterable[Pack] = (),
        **engine_options: Any,
    ) -> None:
        self.pm = (
            plugin_manager
            if plugin_manager is not None
            else build_plugin_manager(plugins, load_entry_points=load_entry_points, env=env)
        )
        self.hooks = Hooks(self.pm, frozenset(DEFAULT_PLUGINS))
        self.facets = FacetRegistry()
        self.actions = ActionRegistry()
        self.packs = PackRegistry()
        self.declared_settings = SettingRegistry()
        # Activity (event kind, "project" or "*") to the checks that may refuse it.
        self.permits: dict[str, list[PermitCheck]] = {}
        # The plugins' history functions (engaged(...)) and migration folders.
        self.condition_macros = MacroRegistry()
        self.migration_locations: list[str] = []
        # The plugins' list columns of contact imports and exports.
        self.transfer_columns = ColumnRegistry()
        self._collect_registrations(packs)
        self.schema = Schema(
            facets={f.name: f.value_names for f in self.facets},
            macros=self.condition_macros.nodes,
        )
        self.db = make_engine(url, **engine_options)
        self.clock = clock
        self.rules_engine = (
            engine
            if engine is not None and not isinstance(engine, str)
            else make_rule_engine(engine, env=env)
        )
        self._compiled: dict[str, CompiledRuleset] = {}
        self._runtimes: dict[str, TenantRuntime] = {}
        self._lock = threading.Lock()
        self._schema_checked = False
        # A quiet CRM tells nobody outside: no notices, no event-recorded hooks (a
        # replay's scratch copy must not mail anyone).
        self.quiet = False

    def sibling(self, url: str, *, clock: Clock, quiet: bool = True, **engine_options: Any) -> CRM:
        """A CRM on another database with this one's plugins, registries and compiled
        packs (nothing is loaded or compiled again): a scratch copy for a replay."""
        twin = copy.copy(self)
        twin.db = make_engine(url, **engine_options)
        twin.clock = clock
        twin.quiet = quiet
        twin._runtimes = {}
        twin._schema_checked = False
        return twin

    # ------------------------------------------------------------ plugins
    def _collect_registrations(self, folder_packs: Iterable[Pack]) -> None:
        def add_facet(facet: Facet, provider: str) -> None:
            self.facets.register(facet, provider)

        def add_action(name: str, spec: ActionSpec, provider: str) -> None:
            self.actions.register(name, spec, provider)

        def add_pack(pack: Pack, provider: str) -> None:
            self.packs.register(pack, provider)

        def add_permit(activity: str, check: PermitCheck, provider: str) -> None:
            if not isinstance(activity, str) or not activity or not callable(check):
                raise PluginError(
                    f"plugin {provider!r} registered a bad permit ({activity!r}, {check!r})"
                )
            self.permits.setdefault(activity, []).append(check)

        self.hooks.register_facets(add_facet)
        self.hooks.register_actions(add_action)

        def broken_packs(provider: str, error: CRMError) -> None:
            self.packs.mark_broken(provider, str(error))

        # A broken pack must not take the others down: it is kept aside (and named by
        # every command that lists packs, and by the tenants that use it).
        self.hooks.register_packs(add_pack, broken_packs)
        self.hooks.register_permits(add_permit)
        self.hooks.register_settings(self.declared_settings.register)
        self.hooks.register_condition_macros(self.condition_macros.register)
        self.hooks.register_transfer_columns(self.transfer_columns.register)

        def add_migrations(folder: Any, provider: str) -> None:
            self.migration_locations.append(migration_location(folder, provider))

        self.hooks.register_migrations(add_migrations)
        for pack in folder_packs:
            self.packs.override(pack, "folder")
        for pack in self.packs.all():
            missing = [name for name in pack.facets if name not in self.facets]
            if missing:
                provider = self.packs.providers[pack.ref]
                self.packs.mark_broken(
                    provider,
                    f"pack {pack.ref} (plugin {provider!r}) uses facet {missing[0]!r}, "
                    "which no plugin registers",
                    pack,
                )

    def _check_tick_settings(self, packs: Sequence[Pack], settings: Mapping[str, Any]) -> None:
        facets = {f: self.facets.get(f).value_names for p in packs for f in p.facets}
        rulesets = [self.compiled(p) for p in packs]
        schema = Schema(facets=facets, events=False, macros=self.schema.macros)
        check_tick_rules(rulesets, settings, schema)

    def compiled(self, pack: Pack) -> CompiledRuleset:
        """The compiled rules of a pack version, shared by every tenant that uses it."""
        with self._lock:
            found = self._compiled.get(pack.ref)
            if found is None:
                found = self._compiled[pack.ref] = compile_pack(pack, self.schema, self.actions)
            return found

    # ------------------------------------------------------------ schema
    def migrate(self) -> None:
        """Create or upgrade the database schema (Alembic migrations), and on PostgreSQL
        the planner statistics the installed packs' searches need."""
        upgrade(self.db, self.migration_locations)
        self._schema_checked = True
        ensure_search_statistics(self.db, (k for p in self.packs.all() for k in p.search_keys))

    def _check_schema(self) -> None:
        if self._schema_checked:
            return
        try:
            current = current_revision(self.db, self.migration_locations)
        except (OperationalError, ProgrammingError) as exc:
            raise ConfigError(f"cannot open the database {self.db.url!r}: {exc}") from None
        if current is None:
            raise ConfigError("the database has no crmkit schema yet; run `crmkit init` first")
        if not at_heads(self.db, self.migration_locations):
            at = ", ".join(current_heads(self.db))
            raise ConfigError(
                f"the database schema is at revision {at}; run `crmkit init` to upgrade it"
            )
        self._schema_checked = True

    # ------------------------------------------------------------ tenants
    def configure_tenant(
        self,
        name: str,
        packs: Sequence[str],
        settings: Mapping[str, Any] | None = None,
        *,
        actor: str = "api",
    ) -> Tenant:
        """Create the tenant, or replace its pack list (and merge ``settings``).

        Each pack is locked to a version: ``name@version`` pins one; a plain ``name``
        keeps the version the tenant already has, or takes the newest installed. Every
        version that changes (added, removed, moved) is recorded with ``actor`` (see
        :meth:`pack_history`). Every pack is resolved and compiled before anything is
        written, so a bad pack or ruleset leaves the tenant as it was. Contacts get the
        default value of facets the new packs bring.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ConfigError(f"invalid tenant name {name!r}")
        self._check_schema()
        with self.db.connect() as conn:
            locked = dict(self._locked_versions(conn, name))
        resolved = self._resolve_packs(name, packs, locked)
        declared = pack_fields(resolved)
        given = self.declared_settings.checked(settings or {})
        now = self.clock()
        with self.db.begin() as conn:
            row = conn.execute(
                select(TenantRow.id, TenantRow.settings).where(TenantRow.name == name)
            ).first()
            self._check_tick_settings(resolved, {**(row[1] or {} if row else {}), **given})
            if row is None:
                tenant_id = _create_tenant_row(conn, name, given, now)
            else:
                tenant_id = row[0]
                _update_tenant_row(conn, name, tenant_id, {**(row[1] or {}), **given}, declared)
            if resolved:
                conn.execute(
                    insert(TenantPackRow),
                    [
                        {
                            "tenant_id": tenant_id,
                            "position": i,
                            "spec": spec.strip(),
                            "version": pack.version,
                        }
                        for i, (spec, pack) in enumerate(zip(packs, resolved, strict=True))
                    ],
                )
            record_pack_changes(
                conn, tenant_id, locked, {p.name: p.version for p in resolved}, actor, now
            )
            self._backfill_defaults(conn, tenant_id, resolved)
        return Tenant(self, name)

    def _resolve_packs(
        self, name: str, packs: Sequence[str], locked: Mapping[str, str]
    ) -> list[Pack]:
        """The tenant's pack list resolved to versions (a plain name keeps its locked
        version) and compiled, before anything is written."""
        resolved: list[Pack] = []
        for spec in packs:
            pack_name, version = parse_spec(spec)
            if version is None and pack_name in locked:
                version = locked[pack_name]
            pack = self.packs.resolve(f"{pack_name}@{version}" if version else pack_name)
            if any(p.name == pack.name for p in resolved):
                raise ConfigError(f"pack {pack.name!r} is listed twice for tenant {name!r}")
            self.compiled(pack)
            resolved.append(pack)
        return resolved

    def _locked_versions(self, conn: Connection, tenant: str) -> list[tuple[str, str]]:
        """The tenant's packs as (name, locked version), in order; none for a new tenant."""
        rows = conn.execute(
            select(TenantPackRow.spec, TenantPackRow.version)
            .join(TenantRow, TenantRow.id == TenantPackRow.tenant_id)
            .where(TenantRow.name == tenant)
            .order_by(TenantPackRow.position)
        ).all()
        found = []
        for spec, version in rows:
            pack_name, pinned = parse_spec(spec)
            # Rows from before versions were locked follow their spec.
            found.append((pack_name, version or pinned or self.packs.resolve(spec).version))
        return found

    def upgrade_pack(
        self, tenant: str, pack: str, to: str | None = None, *, actor: str = "api"
    ) -> tuple[str, str]:
        """Move one of the tenant's packs to version ``to`` (the newest installed when
        None); return (from, to). The change is recorded with ``actor``; rules then run
        in the new version and their transitions name it."""
        with self.db.connect() as conn:
            current = self._locked_versions(conn, tenant)
        if not current:
            self.tenant(tenant)  # a clear error when the tenant does not exist
        versions = dict(current)
        if pack not in versions:
            raise ConfigError(
                f"tenant {tenant!r} does not use pack {pack!r} "
                f"(its packs: {', '.join(f'{n}@{v}' for n, v in current) or 'none'})"
            )
        target = self.packs.resolve(f"{pack}@{to}" if to else pack)
        specs = [target.ref if n == pack else f"{n}@{v}" for n, v in current]
        self.configure_tenant(tenant, specs, actor=actor)
        return versions[pack], target.version

    def pack_history(self, tenant: str) -> list[dict[str, Any]]:
        """Every recorded change of the tenant's pack versions, oldest first."""
        t = PackChangeRow.__table__.c
        with self.db.connect() as conn:
            tenant_id = conn.execute(select(TenantRow.id).where(TenantRow.name == tenant)).scalar()
            if tenant_id is None:
                raise NotFoundError(
                    f"tenant {tenant!r} does not exist; create it with `crmkit init`"
                )
            rows = conn.execute(
                select(t.pack, t.from_version, t.to_version, t.actor, t.at)
                .where(t.tenant_id == tenant_id)
                .order_by(t.seq)
            ).mappings()
            return [dict(row) for row in rows]

    def _backfill_defaults(self, conn: Connection, tenant_id: int, packs: list[Pack]) -> None:
        for facet_name in dict.fromkeys(f for p in packs for f in p.facets):
            facet = self.facets.get(facet_name)
            c, f = ContactRow.__table__.c, ContactFacetRow.__table__.c
            missing = (
                select(c.tenant_id, c.id, literal(facet.name), literal(facet.default))
                .where(c.tenant_id == tenant_id)
                .where(
                    ~select(f.contact_id)
                    .where(f.tenant_id == c.tenant_id, f.contact_id == c.id, f.facet == facet.name)
                    .exists()
                )
            )
            conn.execute(
                insert(ContactFacetRow).from_select(
                    ["tenant_id", "contact_id", "facet", "value"], missing
                )
            )

    def tenant(self, name: str) -> Tenant:
        """The tenant called ``name``; :class:`NotFoundError` if it was never configured."""
        self._check_schema()
        with self.db.connect() as conn:
            found = conn.execute(select(TenantRow.id).where(TenantRow.name == name)).first()
        if found is None:
            raise NotFoundError(f"tenant {name!r} does not exist; create it with `crmkit init`")
        return Tenant(self, name)

    def tenant_context(self, name: str) -> TenantContext:
        """What the services of tenant ``name`` need from this CRM (see
        :class:`crmkit.context.TenantContext`); no database access."""
        return TenantContext(
            name=name,
            db=self.db,
            clock=self.clock,
            hooks=self.hooks,
            rules_engine=self.rules_engine,
            runtimes=self.runtime,
            permits=self.permits,
            declared_settings=self.declared_settings,
            facet_providers=self.facets.providers,
            quiet=self.quiet,
        )

    def tenant_names(self) -> list[str]:
        self._check_schema()
        with self.db.connect() as conn:
            return list(conn.scalars(select(TenantRow.name).order_by(TenantRow.name)))

    def runtime(self, conn: Connection, name: str) -> TenantRuntime:
        """The tenant's current configuration, rebuilt when its config_version moved."""
        row = conn.execute(
            select(TenantRow.id, TenantRow.config_version, TenantRow.settings).where(
                TenantRow.name == name
            )
        ).first()
        if row is None:
            raise NotFoundError(f"tenant {name!r} does not exist; create it with `crmkit init`")
        cached = self._runtimes.get(name)
        if cached is not None and cached.tenant_id == row[0] and cached.config_version == row[1]:
            return cached
        packs = tuple(
            self.packs.resolve(f"{pack_name}@{version}")
            for pack_name, version in self._locked_versions(conn, name)
        )
        facets = {f: self.facets.get(f) for p in packs for f in p.facets}
        fields = pack_fields(packs)
        cf = CustomFieldRow.__table__.c
        for field_row in conn.execute(
            select(cf.name, cf.label, cf.type, cf.choices)
            .where(cf.tenant_id == row[0])
            .order_by(cf.created_at, cf.name)
        ):
            fields[field_row[0]] = FieldSpec(
                field_row[0], field_row[1], field_row[2], "custom", tuple(field_row[3] or ())
            )
        runtime = TenantRuntime.build(
            row[0],
            name,
            row[1],
            packs,
            tuple(self.compiled(p) for p in packs),
            facets,
            dict(row[2] or {}),
            fields,
            macros=self.schema.macros,
            columns=self.transfer_columns.columns,
        )
        self._runtimes[name] = runtime
        return runtime

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> CRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
