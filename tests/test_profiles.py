"""ClientTether contact profiles: typed fields, custom fields, tags, phone check and OK
to SMS, duplicate, archive and erase, the profile page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import invoker, snapshot

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import ConfigError, NotFoundError, PolicyError, ValidationError

UK_LANDLINE = "020 7183 8750"
UK_MOBILE = "07911 123456"


@pytest.fixture
def ct(crm: CRM) -> Tenant:
    return crm.configure_tenant("ct", ["clienttether", "17hats"], {"phone_region": "GB"})


def test_profile_fields_are_typed_and_stored_in_their_clean_form(ct: Tenant) -> None:
    ada = ct.add_contact(
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "phone": "+44 7911 123456",
            "account": "Engines Ltd",
            "fields": {
                "deal_size": "12,500",
                "likelihood": "40%",
                "close_date": "2026-07-01",
                "presence_of_pets": "yes",
                "linkedin": "https://www.linkedin.com/in/ada",
                "secondary_phone": UK_LANDLINE,
                "home_owner_status": "Owner",
                "age": 36,
            },
        }
    )
    assert ada.phone == "+447911123456"
    assert ada.fields == {
        "deal_size": 12500,
        "likelihood": 40,
        "close_date": "2026-07-01",
        "presence_of_pets": True,
        "linkedin": "https://www.linkedin.com/in/ada",
        "secondary_phone": "+442071838750",
        "home_owner_status": "owner",
        "age": 36,
    }
    # Typed values search as their type.
    assert [c.first_name for c in ct.list_contacts("contact.fields.deal_size > 10000")] == ["Ada"]
    assert ct.list_contacts("contact.fields.deal_size > 20000") == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"email": "not-an-email"}, "email: Value error, 'not-an-email' is not a valid email"),
        ({"phone": "12"}, "phone: '12' is not a valid phone number (region GB)"),
        ({"fields": {"age": "thirty"}}, "fields.age: 'thirty' is not a number"),
        ({"fields": {"age": 36.5}}, "fields.age: 36.5 is not a whole number"),
        ({"fields": {"likelihood": 140}}, "fields.likelihood: 140 is not a percentage"),
        ({"fields": {"close_date": "01/07/2026"}}, "fields.close_date: '01/07/2026' is not a date"),
        ({"fields": {"facebook": "facebook"}}, "fields.facebook: 'facebook' is not an http(s) URL"),
        ({"fields": {"marital_status": "complicated"}}, "fields.marital_status: 'complicated'"),
        ({"fields": {"notes": {"a": 1}}}, "fields.notes: a custom field holds text, a number"),
        ({"fields": {"city": "Leeds"}}, "fields.city: 'city' is a built-in attribute"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_changes_nothing(
    ct: Tenant, crm: CRM, values: dict[str, object], message: str
) -> None:
    ct.add_contact({"first_name": "Ada"})
    before = snapshot(crm)
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ct.add_contact({"first_name": "Bob", **values})
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ct.update_contact(1, values)
    assert snapshot(crm) == before


def test_edits_write_transitions_and_clear_values(ct: Tenant) -> None:
    ada = ct.add_contact({"first_name": "Ada", "fields": {"title": "CTO"}})
    changes = ct.update_contact(
        ada.id,
        {"last_name": "Lovelace", "account": "Engines", "fields": {"title": None, "age": 36}},
        actor="sam",
    )
    assert [(c.name, c.old, c.new, c.cause) for c in changes] == [
        ("last_name", "", "Lovelace", "manual (sam)"),
        ("account", None, "Engines", "manual (sam)"),
        ("fields.title", "CTO", None, "manual (sam)"),
        ("fields.age", None, "36", "manual (sam)"),
    ]
    again = ct.get_contact(ada.id)
    assert (again.last_name, again.account, again.fields) == (
        "Lovelace",
        "Engines",
        {"title": None, "age": 36},
    )
    assert [t.new for t in ct.explain(ada.id, "fields.age")] == ["36"]
    assert ct.update_contact(ada.id, {"last_name": "Lovelace"}) == []
    with pytest.raises(ValidationError, match="first_name: Value error, the first name cannot"):
        ct.update_contact(ada.id, {"first_name": None})
    with pytest.raises(NotFoundError, match="contact 99 does not exist"):
        ct.update_contact(99, {"last_name": "X"})


def test_custom_fields_join_the_tenant_list_and_apply_to_all(ct: Tenant, crm: CRM) -> None:
    ada = ct.add_contact({"first_name": "Ada", "fields": {"Favourite colour": "green"}})
    bob = ct.add_contact({"first_name": "Bob"})
    custom = [f for f in ct.fields() if f.source == "custom"]
    assert [(f.name, f.label, f.type) for f in custom] == [
        ("favourite_colour", "Favourite colour", "text")
    ]
    assert ct.get_contact(ada.id).fields == {"favourite_colour": "green"}
    # Declared with a type, a custom field checks its values like a built-in one.
    ct.add_custom_field("Renewal", "date")
    with pytest.raises(ValidationError, match="fields.renewal: 'soon' is not a date"):
        ct.update_contact(bob.id, {"fields": {"renewal": "soon"}})
    ct.update_contact(bob.id, {"fields": {"renewal": "2027-01-31"}})
    assert [c.first_name for c in ct.list_contacts('contact.fields.renewal < "2027-02-01"')] == [
        "Bob"
    ]
    # Applying a field puts it, empty, on every contact that lacks it.
    assert ct.apply_custom_field("favourite_colour") == 1
    assert ct.get_contact(bob.id).fields == {"renewal": "2027-01-31", "favourite_colour": None}
    assert ct.get_contact(ada.id).fields["favourite_colour"] == "green"
    shown = next(s for s in ct.profile(bob.id).sections if s.name == "custom")
    assert [v.label for v in shown.values] == ["Favourite colour", "Renewal"]
    before = snapshot(crm)
    with pytest.raises(ConfigError, match="unknown type 'colour'"):
        ct.add_custom_field("Shade", "colour")
    with pytest.raises(ValidationError, match="already has a field 'deal_size'"):
        ct.add_custom_field("Deal size", "number")
    with pytest.raises(ConfigError, match="has no field 'nope'"):
        ct.apply_custom_field("nope")
    assert snapshot(crm) == before


def test_tags_are_free_text_and_the_tenant_lists_them(ct: Tenant) -> None:
    ada = ct.add_contact({"first_name": "Ada", "tags": ["vip"]})
    bob = ct.add_contact({"first_name": "Bob"})
    ct.tag_contact(bob.id, add=["vip", "  golf day "])
    ct.tag_contact(ada.id, add=["newsletter"], remove=["vip"])
    assert ct.tags() == [
        {"tag": "golf day", "contacts": 1},
        {"tag": "newsletter", "contacts": 1},
        {"tag": "vip", "contacts": 1},
    ]
    assert [t.new or t.old for t in ct.explain(ada.id, "tags")] == ["vip", "newsletter", "vip"]
    with pytest.raises(ValidationError, match="invalid tag ''"):
        ct.tag_contact(ada.id, add=[""])


class LookupProvider:
    """A real provider's stand-in: it knows one number is a landline."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    def crmkit_phone_line_type(self, tenant: str, number: str) -> str | None:
        self.asked.append((tenant, number))
        return "landline" if number == "+12015550123" else None


def test_the_phone_check_sets_ok_to_sms_on_create_and_on_change(ct: Tenant, crm: CRM) -> None:
    landline = ct.add_contact({"first_name": "Lia", "phone": UK_LANDLINE})
    assert (landline.ok_to_sms, landline.sms_note) == (False, "Landline number, SMS not allowed.")
    mobile = ct.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    assert (mobile.ok_to_sms, mobile.sms_note) == (True, None)
    assert ct.add_contact({"first_name": "Nat"}).ok_to_sms is False
    # A new cell phone is checked again.
    changes = ct.update_contact(landline.id, {"phone": "07911 123457"})
    assert [(c.name, c.new) for c in changes] == [("phone", "+447911123457"), ("ok_to_sms", "true")]
    assert ct.get_contact(landline.id).sms_note is None
    ct.update_contact(mobile.id, {"phone": UK_LANDLINE})
    assert ct.get_contact(mobile.id).sms_note == "Landline number, SMS not allowed."
    # Express permission: it can be withdrawn, and not granted for a landline.
    ct.update_contact(landline.id, {"ok_to_sms": False})
    assert ct.get_contact(landline.id).ok_to_sms is False
    with pytest.raises(ValidationError, match="OK to SMS cannot be on: Landline number"):
        ct.update_contact(mobile.id, {"ok_to_sms": True})
    with pytest.raises(ValidationError, match="has no cell phone"):
        ct.add_contact({"first_name": "Oz", "ok_to_sms": True})
    assert ct.list_contacts("contact.ok_to_sms == false", order="first_name")[0].first_name == "Lia"


def test_a_plugin_supplies_the_line_type_lookup(db_url: str) -> None:
    provider = LookupProvider()
    crm = CRM(db_url, plugins=[provider])
    crm.migrate()
    tenant = crm.configure_tenant("us", ["clienttether"])
    # Offline metadata cannot tell in North America; the provider can.
    other = tenant.add_contact({"first_name": "Ann", "phone": "(201) 555-0199"})
    assert other.ok_to_sms is True
    home = tenant.add_contact({"first_name": "Ben", "phone": "(201) 555-0123"})
    assert (home.ok_to_sms, home.sms_note) == (False, "Landline number, SMS not allowed.")
    assert provider.asked == [("us", "+12015550199"), ("us", "+12015550123")]
    found = tenant.check_phone(other.id)
    assert found == {
        "contact_id": other.id,
        "phone": "+12015550199",
        "line_type": "fixed_line_or_mobile",
        "ok_to_sms": True,
        "sms_note": None,
    }
    crm.close()


def test_duplicate_copies_fields_tags_and_facets_but_not_history(ct: Tenant) -> None:
    ada = ct.add_contact(
        {
            "first_name": "Ada",
            "phone": UK_MOBILE,
            "account": "Engines",
            "facets": {"contact_type": "client"},
            "tags": ["vip"],
            "fields": {"deal_size": 900},
        }
    )
    ct.add_note(ada.id, "met at the fair")
    ct.record_event(ada.id, "call")
    copy = ct.duplicate_contact(ada.id)
    assert copy.id != ada.id
    keep = ("first_name", "phone", "account", "facets", "tags", "fields", "ok_to_sms")
    assert {k: getattr(copy, k) for k in keep} == {k: getattr(ada, k) for k in keep}
    assert ct.notes(copy.id) == []
    assert ct.profile(copy.id).history == []


def test_delete_archives_then_erases_with_everything(ct: Tenant, crm: CRM) -> None:
    ada = ct.add_contact({"first_name": "Ada", "phone": UK_MOBILE, "tags": ["vip"]})
    bob = ct.add_contact({"first_name": "Bob"})
    ct.add_note(ada.id, "hello")
    ct.record_event(ada.id, "call")
    ct.send_text(ada.id, body="hi")
    assert ct.delete_contact(ada.id) == "archived"
    assert [c.id for c in ct.list_contacts()] == [bob.id]
    assert [c.id for c in ct.list_contacts(archived=True)] == [ada.id]
    assert [c.id for c in ct.list_contacts("contact.tags has vip", archived=None)] == [ada.id]
    assert ct.list_contacts("contact.tags has vip") == []
    assert ct.restore_contact(ada.id) is True
    assert [c.id for c in ct.list_contacts()] == [ada.id, bob.id]
    ct.delete_contact(ada.id)
    assert ct.delete_contact(ada.id) == "erased"
    with pytest.raises(NotFoundError):
        ct.get_contact(ada.id)
    rows = snapshot(crm)
    for table in ("events", "transitions", "notes", "messages", "contact_tags", "sms_outbox"):
        assert not any(f"{ada.id}" == row[1] for row in rows[table]), table
    assert len(rows["contacts"]) == 1


def test_a_project_keeps_its_primary_contact_from_being_erased(ct: Tenant, crm: CRM) -> None:
    ada = ct.add_contact({"first_name": "Ada"})
    ct.add_project("Wedding", ada.id)
    ct.delete_contact(ada.id)
    before = snapshot(crm)
    with pytest.raises(PolicyError, match=r"primary contact of project\(s\) 1"):
        ct.delete_contact(ada.id)
    assert snapshot(crm) == before


def test_the_cli_shows_edits_and_exports_the_profile(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = invoker(db_url, monkeypatch, "ct")
    run("init", "--packs", "clienttether,17hats", "--setting", "phone_region=GB")
    run("contact", "add", "--first-name", "Ada", "--phone", UK_LANDLINE, "--field", "age=36")
    assert "fields.title - -> CTO" in run("contact", "edit", "1", "--field", "title=CTO")
    error = run("contact", "edit", "1", "--field", "age=old", code=1)
    assert error == "error: invalid contact 1: fields.age: 'old' is not a number\n"
    shown = run("contact", "show", "1")
    for text in ("Contact info", "Expanded info", "Landline number, SMS not allowed.", "CTO"):
        assert text in shown
    profile = json.loads(run("contact", "show", "1", "--json"))
    assert profile["fields"] == {"age": 36, "title": "CTO"}
    assert [s["name"] for s in profile["sections"]] == ["header", "info", "expanded", "opportunity"]
    page = tmp_path / "ada.html"
    run("contact", "profile", "1", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert "<h2>Expanded info</h2>" in html and "<td>CTO</td>" in html
    assert "http" not in html.replace('lang="en"', "")  # self-contained: nothing to fetch
    checked = json.loads(run("contact", "check-phone", "1", "--json"))
    assert checked["line_type"] == "landline"
    assert json.loads(run("tags", "--json")) == []
    run("contact", "tag", "1", "--add", "vip")
    assert json.loads(run("tags", "--json")) == [{"tag": "vip", "contacts": 1}]
    copy = json.loads(run("contact", "duplicate", "1", "--json"))
    assert copy["tags"] == ["vip"]
    assert json.loads(run("contact", "delete", "1", "--json"))["outcome"] == "archived"
    listed = json.loads(run("contact", "list", "--archived", "--json"))
    assert [c["id"] for c in listed] == [1]
    added = json.loads(run("field", "add", "Renewal", "--type", "date", "--json"))
    assert added["source"] == "custom"
    assert json.loads(run("field", "apply", "renewal", "--json"))["contacts"] == 2
    assert "error: field 'renewal'" not in run("field", "list")


def test_html_escapes_what_users_typed(ct: Tenant) -> None:
    ada = ct.add_contact({"first_name": "<script>alert(1)</script>"})
    page = ct.profile_html(ada.id)
    assert "<script>" not in page and "&lt;script&gt;" in page
