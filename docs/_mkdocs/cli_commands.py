"""MkDocs hook: the command-line reference lists the commands plugins add.

mkdocs-click walks a group's ``commands`` mapping, which holds only crmkit's own
commands until the group is first asked to list them: that is when the installed
plugins add theirs, as they do for ``crmkit --help``.
"""

from __future__ import annotations

from typing import Any

import click

from crmkit.cli.main import cli


def on_config(config: Any) -> Any:
    cli.list_commands(click.Context(cli))
    return config
