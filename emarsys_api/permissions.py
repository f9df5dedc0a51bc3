"""Which API credential permission each Emarsys endpoint needs, and the error for a missing one.

docs/emarsys-api.md §12.8: Emarsys API credentials carry per-area permissions, and a call outside
them answers HTTP 403, often without a `replyCode`. The bare status tells a user nothing, so the
error names the endpoint, the permission it needs and where in Emarsys that permission is given.
The names are the areas of the credential's permission list, as the sandbox also uses them.
"""

from __future__ import annotations

import re

from emarsys_api.errors import PermissionDeniedError

PERMISSIONS = (
    "settings",
    "fields",
    "contacts",
    "contact_lists",
    "segments",
    "email_campaigns",
    "exports",
    "relational_data",
    "behavior_data",
)

WHERE_TO_GRANT = (
    "Grant it in Emarsys: Management > Security Settings > API credentials, edit the "
    "credential's permissions (or ask the account's administrator to)."
)

# Paths below the API version (`/api/v2`, `/api/v3`) or the RDS / behavior-data bases.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), permission)
    for pattern, permission in (
        (r"^/api/rds(/v\d+)?/", "relational_data"),
        (r"^/api/hds/", "behavior_data"),
        (r"^/settings$", "settings"),
        (r"^/field(/|$)", "fields"),
        (r"^/contactlist(/|$)", "contact_lists"),
        (r"^/filter(/|$)", "segments"),
        (r"^/contact/(getchanges|getregistrations)$", "exports"),
        (r"^/email/(getresponses|getcontacts)$", "exports"),
        (r"^/export(/|$)", "exports"),
        (r"^/contact(/|$)", "contacts"),
        (r"^/email(/|$)", "email_campaigns"),
    )
)
_VERSION = re.compile(r"^/api/v\d+(?=/)")


def permission_for(endpoint: str) -> str | None:
    """The permission an endpoint needs, or None for one this client does not know.

    Args:
        endpoint: ``METHOD /path`` as errors carry it (or just the path).
    """
    path = endpoint.split(" ", 1)[-1].split("?", 1)[0]
    if not path.startswith(("/api/rds", "/api/hds")):
        path = _VERSION.sub("", path, count=1)
    for pattern, permission in _RULES:
        if pattern.search(path):
            return permission
    return None


def permission_denied(
    status: int, reply_code: int | None, reply_text: str, endpoint: str
) -> PermissionDeniedError:
    """The error for an HTTP 403: names the endpoint, the permission and where to grant it."""
    permission = permission_for(endpoint)
    needed = f"the `{permission}` permission" if permission else "a permission"
    hint = f"The API credential lacks {needed} this endpoint needs. {WHERE_TO_GRANT}"
    return PermissionDeniedError(
        status, reply_code, reply_text, endpoint, permission=permission, hint=hint
    )
