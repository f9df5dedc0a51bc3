"""A test-only WSSE signer and a thin `requests` wrapper for calling a sandbox over HTTP.

The signer is written here from docs/emarsys-api.md §2.1, not imported from either package, so the
sandbox's verifier is checked against a third reading.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import requests

from emarsys_sandbox import Sandbox


def sign(nonce: str, created: str, secret: str) -> str:
    """PasswordDigest = base64 of the lowercase hex SHA1 of nonce + created + secret."""
    return base64.b64encode(
        hashlib.sha1((nonce + created + secret).encode()).hexdigest().encode()
    ).decode()


def wsse_header(
    username: str, secret: str, *, created: str | None = None, nonce: str | None = None
) -> str:
    """A valid X-WSSE value (fresh nonce, `Created` now in UTC with `Z`)."""
    nonce = nonce or os.urandom(16).hex()
    created = created or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = sign(nonce, created, secret)
    return (
        f'UsernameToken Username="{username}", PasswordDigest="{digest}", '
        f'Nonce="{nonce}", Created="{created}"'
    )


class Api:
    """Calls one sandbox with WSSE (`/api/v2`) or a bearer token (`/api/v3`)."""

    def __init__(self, sb: Sandbox, oauth: bool = False) -> None:
        self.sb = sb
        self.oauth = oauth
        self.token: str | None = None

    def headers(self) -> dict[str, str]:
        c = self.sb.credentials
        if not self.oauth:
            return {"X-WSSE": wsse_header(c["username"], c["secret"])}
        if self.token is None:
            reply = requests.post(
                c["token_url"],
                auth=(c["client_id"], c["client_secret"]),
                data={"grant_type": "client_credentials"},
                timeout=10,
            )
            self.token = reply.json()["access_token"]
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        if path.startswith("/api/rds") or path.startswith("/api/hds"):
            return self.sb.base_url + path
        version = "v3" if self.oauth else "v2"
        return f"{self.sb.base_url}/api/{version}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return requests.request(method, self.url(path), headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def export(self, export_type: str, body: dict[str, Any]) -> int:
        """Start an export and return its id (asserting success)."""
        reply = self.post(export_type, json=body)
        assert reply.status_code == 200, reply.text
        export_id = reply.json()["data"]["id"]
        assert isinstance(export_id, int)
        return export_id

    def download(self, export_id: int, **params: Any) -> requests.Response:
        """Wait until done, then GET the data."""
        status = self.get(f"export/{export_id}").json()["data"]["status"]
        assert status == "done", status
        return self.get(f"export/{export_id}/data", params=params)


def parse_csv(text: str, delimiter: str = ",") -> list[list[str]]:
    """Rows of a CSV body, the way a tap reads them."""
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


# An export's CSV cells are text; the sandbox's ground truth holds typed values. The columns
# that are not text, by their English export label (the sandbox tests' exports use those).
KINDS = {
    "user_id": "int",
    "Loyalty Points": "numeric",
    "Lifetime Value": "numeric",
    "Shoe Size (EU)": "numeric",
    "Signup Date": "date",
    "Date of Birth": "date",
    "Last Purchase": "date",
    "Date of first registration": "date",
    "last update": "stamp",
    "Time": "stamp",
    "Campaign ID": "int",
}


def typed_cell(text: str, kind: str) -> Any:
    """One export CSV cell as the ground truth holds it (`kind` from `KINDS`, else "text").

    Empty is null; stamps are the account's Vienna wall time, compared as UTC instants.
    """
    if text == "":
        return None
    if kind == "int":
        return int(text)
    if kind == "numeric":
        return int(text) if text.isdigit() else float(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "stamp":
        local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Vienna"))
        return local.astimezone(timezone.utc)
    return text
