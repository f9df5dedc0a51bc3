"""What the dbt package's marts must say, counted from the sandbox's own records.

Shared by the DuckDB and the PostgreSQL loop (tests/dbt), so it lives here: no test module
imports another. `FIGURES` are the campaign mart's count columns, `plain` puts a warehouse value
next to a ground-truth one.

Responses come from the sandbox's ground truth for the tap's own export bodies
(`tests.helpers.truth.expected_records`, built on `Sandbox.expected_export`), deliveries and bounces
from the sandbox backend's `delivery_status` pages, current contact values from its
ground truth for `contact/getchanges`. Nothing here reads the warehouse.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from emarsys_sandbox import Sandbox
from tests.helpers.meltano import DEV_CONTACT_FIELDS, dev_tap_streams
from tests.helpers.truth import expected_records

# the campaign mart's count columns, in its column order (rates are checked apart)
FIGURES = [
    "sends",
    "deliveries",
    "bounces",
    "hard_bounces",
    "soft_bounces",
    "block_bounces",
    "opens",
    "unique_opens",
    "clicks",
    "unique_clicks",
]


def plain(value: Any) -> Any:
    """A warehouse value next to a ground-truth value (numbers as float, dates as ISO text).

    DuckDB and PostgreSQL hand back `Decimal`, `int` and `date` where the ground truth holds the
    tap's JSON values, so both sides go through this before they are compared.
    """
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class CampaignTruth:
    """One campaign's figures as the sandbox knows them."""

    sends: int = 0
    bounces: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    clicks: int = 0
    openers: set[int] = field(default_factory=set)
    clickers: set[int] = field(default_factory=set)

    def figures(self) -> dict[str, int]:
        """The mart's columns for this campaign."""
        return {
            "sends": self.sends,
            "deliveries": self.sends - sum(self.bounces.values()),
            "bounces": sum(self.bounces.values()),
            "hard_bounces": self.bounces["hard"],
            "soft_bounces": self.bounces["soft"],
            "block_bounces": self.bounces["block"],
            "opens": self.opens,
            "unique_opens": len(self.openers),
            "clicks": self.clicks,
            "unique_clicks": len(self.clickers),
        }


def campaign_truth(sb: Sandbox, end_date: str) -> dict[int, dict[str, int]]:
    """Per campaign id: sends, bounces by kind, opens, clicks, unique openers and clickers."""
    truth: dict[int, CampaignTruth] = defaultdict(CampaignTruth)
    backend = sb.backend
    for campaign in backend.campaigns(show_deleted=True):
        campaign_id = int(campaign["id"])
        truth[campaign_id]  # every campaign has a row, sent or not
        for launch in backend.launches(campaign_id):
            if launch["done"] != "y":
                continue  # the tap reads the delivery status of finished launches only
            last_id = 0
            while True:
                page = backend.delivery_status(
                    {"emailId": campaign_id, "launchId": launch["id"], "lastId": last_id}
                )
                if not page["resultSet"]:
                    break
                for entry in page["resultSet"]:
                    truth[campaign_id].sends += 1
                    if entry["bounce_reason"]:
                        truth[campaign_id].bounces[entry["bounce_reason"]] += 1
                last_id = page["lastId"]
    responses = expected_records(sb, dev_tap_streams(sb, end_date)["email_responses"])
    for response in responses:
        figures = truth[int(response["campaign_id"])]
        if response["source"] == "open":
            figures.opens += 1
            figures.openers.add(int(response["contact_id"]))
        elif response["source"] == "click":
            figures.clicks += 1
            figures.clickers.add(int(response["contact_id"]))
    return {campaign_id: figures.figures() for campaign_id, figures in truth.items()}


def current_contacts(sb: Sandbox, end_date: str) -> dict[int, dict[str, Any]]:
    """Per contact id: its field values in its latest change up to `end_date`."""
    changes = expected_records(sb, dev_tap_streams(sb, end_date)["contact_changes"])
    changes.sort(key=lambda row: (row["last_update"] or row["window_start"], row["window_start"]))
    fields = DEV_CONTACT_FIELDS
    return {int(row["contact_id"]): {name: row[name] for name in fields} for row in changes}


def members(sb: Sandbox, end_date: str, stream: str, audience_key: str) -> dict[int, set[int]]:
    """Per list (or segment) id: the contact ids its export holds now."""
    found: dict[int, set[int]] = defaultdict(set)
    for row in expected_records(sb, dev_tap_streams(sb, end_date)[stream]):
        found[int(row[audience_key])].add(int(row["contact_id"]))
    return dict(found)
