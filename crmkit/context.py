"""What a tenant's services need, in one small frozen object (never the Tenant itself).

:class:`crmkit.tenant.Tenant` builds one from its CRM and hands it to every service
(:mod:`crmkit.contacts_service`, :mod:`crmkit.editing`, :mod:`crmkit.recording`...), so
the services depend on these few things and not on the facade above them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from crmkit.storage.writers import lock_tenant

if TYPE_CHECKING:
    from crmkit.hooks import Hooks, PermitCheck
    from crmkit.rules.engine import RuleEngine
    from crmkit.runtime import TenantRuntime
    from crmkit.settings import SettingRegistry


@dataclass(frozen=True)
class TenantContext:
    """One tenant of one CRM, as its services see it.

    ``runtimes`` is the CRM's (cached) runtime lookup, ``quiet`` says that nothing may
    leave the process (a replay's scratch copy: no notices, no event-recorded hooks).
    """

    name: str
    db: Engine
    clock: Callable[[], datetime]
    hooks: Hooks
    rules_engine: RuleEngine
    runtimes: Callable[[Connection, str], TenantRuntime]
    # Activity (event kind, "project" or "*") to the checks that may refuse it.
    permits: Mapping[str, Sequence[PermitCheck]]
    declared_settings: SettingRegistry
    # Facet name to the plugin that registered it.
    facet_providers: Mapping[str, str]
    quiet: bool = False

    def runtime(self, conn: Connection) -> TenantRuntime:
        """The tenant's current configuration (rebuilt when it changed)."""
        return self.runtimes(conn, self.name)

    def write_runtime(self, conn: Connection) -> TenantRuntime:
        """The runtime, for a transaction that writes: takes the tenant's write lock
        first (see :mod:`crmkit.storage.writers`), so nothing read after it is stale."""
        runtime = self.runtimes(conn, self.name)
        lock_tenant(conn, runtime.tenant_id)
        return runtime
