"""Every error crmkit raises on purpose derives from :class:`CRMError`.

Each names what went wrong and where, so a CLI can print ``str(error)`` as one line.
"""

from __future__ import annotations


class CRMError(Exception):
    """Base class of crmkit's own errors."""


class PluginError(CRMError):
    """A plugin could not be loaded or registered; the message names the plugin."""


class BusyError(CRMError):
    """Another writer held the database's write lock longer than crmkit waits for it
    (``CRMKIT_LOCK_TIMEOUT`` seconds); nothing was changed, and the same call may
    succeed when tried again."""


class ConfigError(CRMError):
    """A tenant, pack or setting is misconfigured."""


class UnknownPackError(ConfigError):
    """A tenant asked for a pack (or pack version) that is not installed."""


class SourceError(CRMError):
    """A hand-written file (pack manifest, scenario, ruleset) is invalid; the message
    names the file, the line where known, and the reason."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        super().__init__(f"{self.where}: {reason}")

    @property
    def where(self) -> str:
        return f"{self.source}, line {self.line}" if self.line else self.source


class RulesetError(SourceError):
    """A ruleset file is invalid; the message names the file, the line, the rule and the
    reason."""

    def __init__(
        self, source: str, reason: str, rule: str | None = None, line: int | None = None
    ) -> None:
        self.rule = rule
        super().__init__(source, reason, line)

    @property
    def where(self) -> str:
        where = super().where
        return f"{where}, rule {self.rule!r}" if self.rule else where


class ConditionError(CRMError):
    """A condition expression is invalid; the message shows the position."""

    def __init__(self, text: str, reason: str, column: int | None = None) -> None:
        self.text = text
        self.reason = reason
        self.column = column
        at = f" at column {column}" if column is not None else ""
        super().__init__(f"invalid condition {_excerpt(text, column)}{at}: {reason}")


def _excerpt(text: str, column: int | None, width: int = 80) -> str:
    """``text`` quoted, or for a long one the part around ``column`` with its length, so
    the message stays one readable line."""
    if len(text) <= width:
        return repr(text)
    start = max(0, min((column or 1) - 1 - width // 2, len(text) - width))
    part = text[start : start + width]
    before = "..." if start else ""
    after = "..." if start + width < len(text) else ""
    return f"{before}{part!r}{after} ({len(text):,} characters)"


class ValidationError(CRMError):
    """Input data was rejected; the message names the field."""


class NotFoundError(CRMError):
    """A contact, account, project or tenant does not exist in this tenant."""


class DuplicateEventError(CRMError):
    """An event with this id was already recorded for the tenant; nothing changed."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id!r} was already recorded; nothing changed")


class PolicyError(CRMError):
    """A change was refused by a facet policy or a plugin guard; nothing changed."""


class ActionError(CRMError):
    """A rule's action raised; the event was stored as failed and nothing else changed."""

    def __init__(self, event_id: str, rule: str, cause: BaseException) -> None:
        self.event_id = event_id
        self.rule = rule
        self.cause = cause
        super().__init__(
            f"event {event_id!r}: action of rule {rule} failed: {type(cause).__name__}: {cause}"
        )


class DeliveryError(CRMError):
    """A message could not be delivered; it is kept in the contact's log as failed."""

    def __init__(self, message_id: int, reason: str) -> None:
        self.message_id = message_id
        self.reason = reason
        super().__init__(f"message {message_id} failed: {reason}")


class ReplayError(CRMError):
    """A tenant's history cannot be replayed (for example it predates the journal)."""
