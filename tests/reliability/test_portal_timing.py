"""A failed portal login takes as long for an unknown username as for a known one, so
the time taken does not tell which usernames exist."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from crmkit_funnel.portal import FAILURE_WINDOW, Portal
from support import FrozenClock

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import PolicyError

TRIES = 9


class Inbox:
    def __init__(self) -> None:
        self.token = ""

    @hookimpl
    def crmkit_on_notice(
        self, tenant: str, contact_id: int, kind: str, data: dict[str, Any]
    ) -> None:
        self.token = data["token"]


def failed_login_seconds(portal: Portal, username: str, clock: FrozenClock) -> float:
    # Each try in a fresh window, so no lockout cuts it short.
    clock.advance(FAILURE_WINDOW)
    started = time.perf_counter()
    with pytest.raises(PolicyError, match="^wrong username or password$"):
        portal.authenticate(username, "not the password")
    return time.perf_counter() - started


def test_unknown_and_known_usernames_fail_in_the_same_time(db_url: str, clock: FrozenClock) -> None:
    inbox = Inbox()
    crm = CRM(db_url, clock=clock, plugins=[inbox])
    crm.migrate()
    shop: Tenant = crm.configure_tenant("shop", ["funnel"])
    shop.add_contact(
        {"first_name": "Ada", "email": "ada@example.com", "facets": {"role": "client"}}
    )
    portal = Portal(shop)
    portal.set_password("ada@example.com", inbox.token, "correct horse")
    known, unknown = [], []
    for n in range(TRIES):  # interleaved, so a slow moment of the machine hits both
        known.append(failed_login_seconds(portal, "ada@example.com", clock))
        unknown.append(failed_login_seconds(portal, f"nobody{n}@example.com", clock))
    ratio = statistics.median(unknown) / statistics.median(known)
    # Without the dummy hash an unknown username failed in under a tenth of the time
    # (1/600 before failures were counted); scheduling noise stays inside this margin.
    assert 0.5 < ratio < 2.0, (statistics.median(known), statistics.median(unknown))
    crm.close()
