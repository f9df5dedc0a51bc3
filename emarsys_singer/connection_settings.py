"""The settings that say where Emarsys is, who the connector is and how patient its client is.

Both connectors talk to Emarsys through the same `emarsys_api.EmarsysClient`, so these settings
mean the same in both: declared once here (name, type, default, secrecy and wording), each
connector's `config_jsonschema` lists `CONNECTION_SETTINGS` and hands its config to
`emarsys_api.ClientSettings.from_config`. The defaults are `ClientSettings`' own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from singer_sdk import typing as th

from emarsys_api import ClientSettings

_DEFAULTS: dict[str, Any] = {
    field.name: field.default for field in dataclasses.fields(ClientSettings)
}


def _setting(
    name: str,
    kind: th.JSONTypeHelper[Any] | type[th.JSONTypeHelper[Any]],
    description: str,
    *,
    secret: bool = False,
) -> th.Property[Any]:
    return th.Property(
        name, kind, default=_DEFAULTS.get(name), secret=secret, description=description
    )


#: Where Emarsys is, the credentials (OAuth2 or WSSE) and the client's patience, in the words
#: `--about`, meltano.yml and the README use for both connectors.
CONNECTION_SETTINGS: tuple[th.Property[Any], ...] = (
    _setting(
        "base_url",
        th.StringType,
        "Emarsys API host; the API paths (`/api/v2` for WSSE, `/api/v3` for OAuth2, `/api/rds`, "
        "`/api/hds`) are appended.",
    ),
    _setting(
        "username", th.StringType, "WSSE API user (API v2); used when `client_id` is not set."
    ),
    _setting("secret", th.StringType, "WSSE secret of the API user.", secret=True),
    _setting(
        "client_id",
        th.StringType,
        "OAuth2 client id (API v3); when set, OAuth2 is used instead of WSSE.",
    ),
    _setting("client_secret", th.StringType, "OAuth2 client secret.", secret=True),
    _setting("token_url", th.StringType, "OAuth2 token endpoint."),
    _setting("timeout", th.NumberType, "Seconds to wait for a connection and for each read."),
    _setting(
        "max_retries",
        th.IntegerType(minimum=0),
        "Retries of a request after 429, 5xx and network errors.",
    ),
    _setting(
        "max_wait",
        th.NumberType,
        "Longest single wait in seconds (retry back-off, rate-limit reset).",
    ),
    _setting(
        "request_deadline",
        th.NumberType,
        "Seconds one API call may take in all (every attempt, retry wait and the reading of "
        "the reply) before it fails.",
    ),
)

#: The tap's floor for export downloads (the target downloads no exports).
DOWNLOAD_RATE_SETTING: th.Property[Any] = _setting(
    "min_download_rate",
    th.NumberType(minimum=0),
    "Bytes per second an export download must average while it is read (over 10 s); a slower "
    "or stalled one is cut and resumed. 0: no floor.",
)
