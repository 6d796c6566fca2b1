"""Tenant settings have a declared type and range, checked whenever they are set (API,
tenant configuration, CLI); values read at run time are checked too and never come out
as Infinity or NaN JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import PackPlugin, invoker, snapshot

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import ConfigError, CRMError, PluginError
from crmkit.settings import Setting, UnknownSettingWarning
from crmkit.storage.models import TenantRow


def store_unchecked(tenant: Tenant, values: dict[str, Any]) -> None:
    """Write settings as a release that did not check them would have."""
    from sqlalchemy import update

    with tenant.crm.db.begin() as conn:
        conn.execute(
            update(TenantRow)
            .where(TenantRow.name == tenant.name)
            .values(
                settings={**tenant.settings(), **values},
                config_version=TenantRow.config_version + 1,
            )
        )


@pytest.mark.parametrize(
    ("packs", "values", "message"),
    [
        (
            ["17hats"],
            {"hats_cold_after_days": 99999999},
            "setting hats_cold_after_days = 99999999 is refused: out of range "
            "(allowed: a whole number of days from 1 to 3650)",
        ),
        (["17hats"], {"hats_cold_after_days": 2.5}, "not a whole number"),
        (["17hats"], {"hats_new_days": math.inf}, "hats_new_days = Infinity is refused"),
        (
            ["funnel"],
            {"portal_token_hours": 1e9},
            "setting portal_token_hours = 1000000000.0 is refused: out of range "
            "(allowed: a number of hours from 1 to 8760)",
        ),
        (["funnel"], {"portal_token_hours": -5}, "portal_token_hours = -5 is refused"),
        (["funnel"], {"company_first": "yes"}, 'company_first = "yes" is refused'),
        (["funnel"], {"smtp_port": 70000}, "smtp_port = 70000 is refused: out of range"),
        (["funnel"], {"smtp_password_env": "A B"}, "not in the expected form"),
        (["funnel"], {"phone_region": "Britain"}, 'phone_region = "Britain" is refused'),
        (["funnel"], {"colours": {"role": {"lead": "mauve"}}}, "'mauve' is not a colour"),
        (["funnel"], {"my_own": math.nan}, "setting my_own = NaN is refused"),
    ],
)
def test_a_value_out_of_its_declared_range_is_refused_and_nothing_changes(
    crm: CRM, packs: list[str], values: dict[str, Any], message: str
) -> None:
    tenant = crm.configure_tenant("t", packs)
    before = snapshot(crm)
    with pytest.raises(ConfigError) as caught:
        tenant.update_settings(values)
    assert message in str(caught.value)
    with pytest.raises(ConfigError, match="is refused"):
        crm.configure_tenant("t", packs, values)
    with pytest.raises(ConfigError, match="is refused"):
        crm.configure_tenant("new", packs, values)
    assert snapshot(crm) == before


def test_values_in_range_are_stored(crm: CRM) -> None:
    tenant = crm.configure_tenant("t", ["17hats", "funnel"], {"hats_cold_after_days": 3650})
    tenant.update_settings({"portal_token_hours": 0.5 + 0.5, "hats_new_days": 1.5})
    tenant.update_settings({"hats_cold_after_days": 10.0, "smtp_port": 2525})
    assert {k: v for k, v in tenant.settings().items() if k != "hats_new_days"} == {
        "hats_cold_after_days": 10,
        "portal_token_hours": 1.0,
        "smtp_port": 2525,
    }


def test_an_undeclared_setting_is_stored_with_a_warning(crm: CRM) -> None:
    tenant = crm.configure_tenant("t", ["17hats"])
    with pytest.warns(UnknownSettingWarning, match="hats_cold_after_dayz"):
        tenant.update_settings({"hats_cold_after_dayz": 5})
    assert tenant.settings()["hats_cold_after_dayz"] == 5


def test_a_setting_that_breaks_a_tick_rule_is_refused(db_url: str, tmp_path: Path) -> None:
    rules = (
        "rules:\n  - name: stale\n    trigger: tick\n"
        "    when: not had_event within {stale_days:7} days\n    then: [{tag: stale}]\n"
    )
    crm = CRM(db_url, load_entry_points=False, plugins=[PackPlugin(tmp_path, {"p": rules})])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["p"])
    before = snapshot(crm)
    with (
        pytest.warns(UnknownSettingWarning),
        pytest.raises(ConfigError, match="setting stale_days would break tick rule p@1.0.0:stale"),
    ):
        tenant.update_settings({"stale_days": 99999999})
    with (
        pytest.warns(UnknownSettingWarning),
        pytest.raises(ConfigError, match="more than 100 years"),
    ):
        crm.configure_tenant("t", ["p"], {"stale_days": 1e300})
    assert snapshot(crm) == before
    with pytest.warns(UnknownSettingWarning):
        tenant.update_settings({"stale_days": 30})
    assert tenant.tick().changes == 0


def test_register_settings_declares_a_plugins_settings(db_url: str) -> None:
    class Followup:
        @hookimpl
        def crmkit_register_settings(self, register: Callable[[Setting], None]) -> None:
            register(Setting("followup_days", "integer", 1, 365, "days"))

    crm = CRM(db_url, load_entry_points=False, plugins=[Followup()])
    crm.migrate()
    assert crm.declared_settings.providers["followup_days"] == "Followup"
    assert crm.declared_settings.providers["smtp_port"] == "crmkit.core_settings"
    tenant = crm.configure_tenant("t", [], {"followup_days": 7})
    with pytest.raises(ConfigError, match="followup_days = 0 is refused: out of range"):
        tenant.update_settings({"followup_days": 0})

    class Rival:
        @hookimpl
        def crmkit_register_settings(self, register: Callable[[Setting], None]) -> None:
            register(Setting("followup_days", "number", 0, 9))

    with pytest.raises(PluginError, match="declared differently by 'Followup' and 'Rival'"):
        CRM(db_url, load_entry_points=False, plugins=[Followup(), Rival()])


def test_a_bad_value_stored_earlier_is_a_clear_error_where_it_is_used(crm: CRM) -> None:
    shop = crm.configure_tenant("shop", ["funnel"])
    lead = shop.add_contact({"first_name": "Ada"}).id
    store_unchecked(shop, {"portal_token_hours": -5})
    before = snapshot(crm)
    with pytest.raises(CRMError, match="portal_token_hours = -5 is refused.*crmkit settings set"):
        shop.set_facet(lead, "role", "prospect")
    assert snapshot(crm) == before


def test_the_cli_checks_settings_and_prints_only_valid_json(
    crm: CRM, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm.configure_tenant("t", ["17hats"])
    run = invoker(db_url, monkeypatch, "t")
    for args, message in [
        (["settings", "set", "hats_cold_after_days", "99999999"], "out of range"),
        (["settings", "set", "hats_cold_after_days", "Infinity"], "= Infinity is refused"),
        (["settings", "set", "anything", "NaN"], "anything = NaN is refused"),
        (["init", "--packs", "17hats", "--setting", "hats_cold_after_days=1e9"], "out of range"),
    ]:
        error = run(*args, code=1)
        assert error.startswith("error: setting ") and message in error, error
        assert error.count("\n") == 1, error
    assert json.loads(run("settings", "show", "--json")) == {}
    run("settings", "set", "hats_cold_after_days", "10")
    assert json.loads(run("settings", "show", "--json")) == {"hats_cold_after_days": 10}


def test_settings_show_json_never_prints_infinity(
    crm: CRM, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if crm.db.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's jsonb cannot hold Infinity: only SQLite has such rows")
    tenant = crm.configure_tenant("t", ["17hats"])
    store_unchecked(tenant, {"hats_new_days": math.inf, "x": [math.nan]})
    out = invoker(db_url, monkeypatch, "t")("settings", "show", "--json")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    assert json.loads(out, parse_constant=refuse) == {"hats_new_days": None, "x": [None]}
