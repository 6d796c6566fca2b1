"""Pack templates render in Jinja2's sandbox: known template-injection payloads are
refused with an error naming the template, or print harmlessly; values that hold
template syntax are printed, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmkit import CRM, Tenant
from crmkit.errors import ConfigError
from crmkit.packs import Pack
from crmkit.templating import render_pack_template

# Payloads from public template-injection cheat sheets, aimed at Jinja2: reaching
# Python's object graph, the process, the file system, or exhausting the machine.
REFUSED = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ request.application.__globals__.__builtins__.__import__('os') }}",
    "{{ config.items() }}",
    "{% import 'os' as os %}{{ os.system('id') }}",
    "{% include '/etc/passwd' %}",
    "{{ [].append.__self__.__class__ }}",
    "{{ 'x'.format.__globals__ }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range(10**9) | list }}",
    "{{ 'x' * 10**10 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{% for i in range(999999999) %}{% endfor %}",
    "{{ contact.first_name|attr('__class__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '{0.__class__}'.format(contact) }}",
    "{{ undefined_name }}",
    "{% set x = x %}{{ x.y.z }}",
]
HARMLESS = {
    "{{ '<script>alert(1)</script>' }}": "<script>alert(1)</script>",
    "{{ 7 * 7 }}": "49",
    "{{ '%s' % 'ok' }}": "ok",
    "{{ contact.first_name | upper }}": "ADA",
}


def pack_with(template: str, tmp_path: Path) -> Pack:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "t.txt.j2").write_text(template, encoding="utf-8")
    return Pack(name="vendor", version="1.0.0", rulesets=(), templates=folder)


@pytest.mark.parametrize("payload", REFUSED)
def test_injection_payloads_are_refused_with_the_template_named(
    payload: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"template 't.txt.j2' of pack vendor@1.0.0 failed"):
        render_pack_template(
            pack_with(payload, tmp_path), "t.txt.j2", contact={"first_name": "Ada"}
        )


@pytest.mark.parametrize(("payload", "output"), HARMLESS.items())
def test_plain_template_code_still_renders(payload: str, output: str, tmp_path: Path) -> None:
    rendered = render_pack_template(
        pack_with(payload, tmp_path), "t.txt.j2", contact={"first_name": "Ada"}
    )
    assert rendered == output


def test_a_contact_holding_template_syntax_is_printed_not_run(acme: Tenant, crm: CRM) -> None:
    from crmkit.messaging import compose

    name = "{{ 7*7 }}{% raw %}<b>"
    contact = acme.add_contact({"first_name": name, "last_name": "{{ config }}"})
    _, text = compose(
        acme.context,
        contact,
        "text",
        body=None,
        template="17hats:contact_card.txt.j2",
        extra={"type_label": "{{ self }}", "reason": ""},
    )
    assert text == f"{name} {{{{ config }}}} is a {{{{ self }}}}."
    # The HTML profile escapes it as well.
    html = acme.profile_html(contact.id)
    assert "{{ 7*7 }}{% raw %}&lt;b&gt;" in html and "<b>" not in html.split("<body")[1]
