"""The tap's streams, declared: five CSV exports and six JSON endpoints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from emarsys_api import ExportType
from tap_emarsys.contact_fields import EXPORT_FIELD_LIMIT
from tap_emarsys.export_stream import (
    AudienceExportStream,
    ExtraColumn,
    TimeRangedExportStream,
)
from tap_emarsys.json_stream import AccountStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_emarsys.export_runner import ExportUnit
    from tap_emarsys.windows import ExportWindow

# docs/emarsys-api.md §4.2: analysis field ids of getresponses, with their English labels.
ANALYSIS_FIELDS: dict[int, ExtraColumn] = {
    1: ExtraColumn("Campaign title"),
    2: ExtraColumn("Section header"),
    3: ExtraColumn("Section group"),
    4: ExtraColumn("Link title"),
    5: ExtraColumn("Url"),
    8: ExtraColumn("Time", "timestamp"),
    12: ExtraColumn("Campaign ID", "integer"),
    13: ExtraColumn("Version name"),
    14: ExtraColumn("Campaign category"),
    15: ExtraColumn("Link category"),
}
RESPONSE_SOURCES = (
    "trackable_links",
    "registration_forms",
    "tell_a_friend",
    "contact_us",
    "change_profile",
    "unsubscribe",
    "mail_open",
    "complaint",
)
LAST_UPDATE = ExtraColumn("last update", "timestamp")


class ContactChangesStream(TimeRangedExportStream):
    """Contacts changed in a window (contact/getchanges, all origins), one row per change.

    Keyed by `[contact_id, window_start]` in every layout: some accounts' exports have no
    `last update` column and even the published example leaves it empty on some rows
    (docs/emarsys-api.md §12.2), so `last_update` is a nullable property, never a key.
    """

    name = "contact_changes"
    export_type = ExportType.CONTACT_CHANGES
    primary_keys: ClassVar[list[str]] = ["contact_id", "window_start"]
    extra_columns = (LAST_UPDATE,)
    unit_properties: ClassVar[dict[str, dict[str, Any]]] = {
        "window_start": {"type": ["string"], "format": "date-time"}
    }
    body_extras: ClassVar[dict[str, Any]] = {"origin": "all", "origin_id": 0}
    dates_only = True  # docs/emarsys-api.md §4.2: getchanges takes dates only

    @override
    def unit_record_extra(self, unit: ExportUnit[Any]) -> dict[str, Any]:
        """Every change names the start of its export window (UTC), part of the key."""
        window: ExportWindow = unit.key
        return {"window_start": window.start.astimezone(dt.timezone.utc).isoformat()}


class ContactRegistrationsStream(TimeRangedExportStream):
    """Form registrations in a window (contact/getregistrations), with their timestamp."""

    name = "contact_registrations"
    export_type = ExportType.CONTACT_REGISTRATIONS
    primary_keys: ClassVar[list[str]] = ["contact_id", "last_update"]
    extra_columns = (LAST_UPDATE,)
    body_extras: ClassVar[dict[str, Any]] = {"with_timestamp": 1}


class EmailResponsesStream(TimeRangedExportStream):
    """Email responses (opens, clicks, ...) in a window (email/getresponses), one per response."""

    name = "email_responses"
    export_type = ExportType.EMAIL_RESPONSES
    primary_keys: ClassVar[list[str]] = ["contact_id", "campaign_id", "source", "time"]
    extra_columns = (*ANALYSIS_FIELDS.values(), ExtraColumn("source"))
    body_extras: ClassVar[dict[str, Any]] = {
        "sources": list(RESPONSE_SOURCES),
        "analysis_fields": list(ANALYSIS_FIELDS),
    }
    # docs/emarsys-api.md §4.2: contact and analysis fields together are at most 20.
    field_group_size = EXPORT_FIELD_LIMIT - len(ANALYSIS_FIELDS)


class ContactListMembersStream(AudienceExportStream):
    """Members of every contact list (email/getcontacts), one row per list and contact."""

    name = "contact_list_members"
    export_type = ExportType.CONTACT_LIST_MEMBERS
    primary_keys: ClassVar[list[str]] = ["contact_list_id", "contact_id"]
    unit_properties: ClassVar[dict[str, dict[str, Any]]] = {
        "contact_list_id": {"type": ["integer"]}
    }
    audience_property = "contact_list_id"
    audience_body_key = "contactlist"
    audience_ids_setting = "contact_list_ids"

    @override
    def audiences(self) -> list[dict[str, Any]]:
        """The account's contact lists."""
        return self.account.client.contact_lists()


class SegmentMembersStream(AudienceExportStream):
    """Contacts in every segment (export/filter), one row per segment and contact."""

    name = "segment_members"
    export_type = ExportType.SEGMENT_MEMBERS
    primary_keys: ClassVar[list[str]] = ["segment_id", "contact_id"]
    unit_properties: ClassVar[dict[str, dict[str, Any]]] = {"segment_id": {"type": ["integer"]}}
    audience_property = "segment_id"
    audience_body_key = "filter"
    audience_ids_setting = "segment_ids"

    @override
    def audiences(self) -> list[dict[str, Any]]:
        """The account's segments."""
        return self.account.client.segments()


class ContactFieldsStream(AccountStream):
    """The account's contact fields (GET /field), with the property name the tap gives each."""

    name = "contact_fields"
    primary_keys: ClassVar[list[str]] = ["id"]
    properties: ClassVar[dict[str, str]] = {
        "id": "integer",
        "name": "text",
        "application_type": "text",
        "string_id": "text",
        "property": "text",
    }

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """One record per field; `property` is its column name in the export streams."""
        catalog = self.account.fields
        for raw in self.account.client.fields(language="en"):
            field = catalog.by_id[int(raw["id"])]
            yield {
                "id": field.id,
                "name": field.label,
                "application_type": field.application_type or None,
                "string_id": field.string_id or None,
                "property": field.property_name,
            }


class EmailCampaignsStream(AccountStream):
    """Email campaigns, deleted ones included (GET /email/?showdeleted=1)."""

    name = "email_campaigns"
    primary_keys: ClassVar[list[str]] = ["id"]
    properties: ClassVar[dict[str, str]] = {
        "id": "integer",
        "name": "text",
        "status": "text",
        "api_status": "text",
        "created": "timestamp",
        "deleted": "timestamp",
        "fromemail": "text",
        "fromname": "text",
        "subject": "text",
        "email_category": "text",
        "language": "text",
        "content_type": "text",
        "source": "text",
        "root_campaign_id": "integer",
    }

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """One record per campaign."""
        for campaign in self.account.client.email_campaigns(show_deleted=True):
            yield self.shape(campaign)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context:
        """Launches are read per campaign."""
        return {"email_id": record["id"]}


class EmailLaunchesStream(AccountStream):
    """Launches of each campaign (POST /email/getlaunchesofemail)."""

    name = "email_launches"
    parent_stream_type = EmailCampaignsStream
    # Full table: no bookmark to keep per campaign, so one state, not one partition each.
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys: ClassVar[list[str]] = ["email_id", "id"]
    properties: ClassVar[dict[str, str]] = {
        "email_id": "integer",
        "id": "integer",
        "done": "text",
        "launch_date": "date",
    }

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """One record per launch of the parent campaign."""
        assert context is not None
        for launch in self.account.client.email_launches(int(context["email_id"])):
            yield self.shape({**launch, "email_id": context["email_id"]})

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        """Delivery status exists only for finished launches (6011 otherwise, §6.1)."""
        if record.get("done") != "y":
            return None
        return {"email_id": record["email_id"], "launch_id": record["id"]}

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """Skip unfinished launches quietly instead of syncing children with no context."""
        child = self.get_child_context(record, context)
        if child is not None:
            yield child


class EmailDeliveryStatusStream(AccountStream):
    """Delivery status per contact of each finished launch (POST /email/getdeliverystatus)."""

    name = "email_delivery_status"
    parent_stream_type = EmailLaunchesStream
    # Full table: no bookmark to keep per launch, so one state, not one partition each.
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys: ClassVar[list[str]] = ["email_id", "launch_id", "id"]
    properties: ClassVar[dict[str, str]] = {
        "email_id": "integer",
        "launch_id": "integer",
        "id": "integer",
        "contact_id": "integer",
        "status": "text",
        "bounce_reason": "text",
        "mail_type": "text",
    }
    renames: ClassVar[dict[str, str]] = {"user_id": "contact_id"}

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Every page of the launch's delivery status (paged by `lastId`)."""
        assert context is not None
        email_id, launch_id = int(context["email_id"]), int(context["launch_id"])
        for page in self.account.client.delivery_status(email_id, launch_id):
            for row in page:
                yield self.shape({**row, "email_id": email_id, "launch_id": launch_id})


class AudienceStream(AccountStream):
    """Contact lists and segments: the same three properties from one listing call each."""

    primary_keys: ClassVar[list[str]] = ["id"]
    properties: ClassVar[dict[str, str]] = {
        "id": "integer",
        "name": "text",
        "created": "timestamp",
    }

    def listing(self) -> list[dict[str, Any]]:
        """The client call that lists the audiences."""
        raise NotImplementedError

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """One record per list or segment."""
        for item in self.listing():
            yield self.shape(item)


class ContactListsStream(AudienceStream):
    """The account's contact lists (GET /contactlist)."""

    name = "contact_lists"

    @override
    def listing(self) -> list[dict[str, Any]]:
        return self.account.client.contact_lists()


class SegmentsStream(AudienceStream):
    """The account's segments (GET /filter)."""

    name = "segments"

    @override
    def listing(self) -> list[dict[str, Any]]:
        return self.account.client.segments()


STREAM_TYPES = (
    ContactChangesStream,
    ContactRegistrationsStream,
    EmailResponsesStream,
    ContactListMembersStream,
    SegmentMembersStream,
    ContactFieldsStream,
    EmailCampaignsStream,
    EmailLaunchesStream,
    EmailDeliveryStatusStream,
    ContactListsStream,
    SegmentsStream,
)

__all__ = ["STREAM_TYPES"]
