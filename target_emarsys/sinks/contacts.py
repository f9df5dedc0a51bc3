"""Contacts: upserts keyed by one contact field, with per-item errors reported by key."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

import msgspec

from emarsys_api import ValidationError
from target_emarsys.destinations import ContactsDestination
from target_emarsys.errors import DestinationConfigError, InvalidRowError
from target_emarsys.sinks.base import EmarsysSink, Pair
from target_emarsys.values import OPT_IN_FORMS, is_digits, json_value, opt_in_choice

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

EMAIL_FIELD_ID = "3"
"""The system field E-Mail (docs/emarsys-api.md §9)."""
BODY_BUDGET = 7_500_000
"""Bytes of one `PUT /contact` body at most. Emarsys refuses bodies over 8 MB (docs/emarsys-api.md
§12.9); whether that means 8,000,000 bytes or 8 MiB is not said, so the budget stays under both."""
_BODY_OVERHEAD = len(b'{"key_id":"","contacts":[]}')
TOO_MANY_CONTACTS = 1000
"""replyCode of a 400 for a contacts request over a limit (docs/emarsys-api.md §12.9)."""
OPT_IN_FIELD_ID = "31"
"""The system field Opt-In, which takes only its choice ids (docs/emarsys-api.md §9, §12.9)."""


class ContactsSink(EmarsysSink):
    """`PUT /api/v2/contact?create_if_not_exists=1` with up to 1000 contacts per request.

    Properties are named by the account's field `string_id` (`email`, `first_name`, ...) or
    by numeric field id, and sent by field id. Emarsys answers HTTP 200 even when some
    contacts fail; those come back per key (docs/emarsys-api.md §3.1) and are reported as
    rejected rows. Upserts by key are idempotent, so a rerun after a kill duplicates nothing.
    Requests that may name the same contact never run at once (see `plan_requests`).
    """

    destination: ContactsDestination
    _encoder = msgspec.json.Encoder(decimal_format="number")

    @override
    def setup(self) -> None:
        """Map the stream's properties to field ids, from the account's field list."""
        super().setup()
        by_string_id: dict[str, str] = {}
        for field in self.client.fields():
            string_id = field.get("string_id")
            if string_id:
                by_string_id[str(string_id)] = str(field["id"])

        def field_id(name: str) -> str | None:
            return name if is_digits(name) else by_string_id.get(name)

        properties = list(self.schema.get("properties", {}))
        unknown = [name for name in properties if field_id(name) is None]
        if unknown:
            raise DestinationConfigError(
                self.stream_name,
                f"propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                "match no contact field of this account (string_id or numeric id); "
                "rename or drop them with a stream map",
            )
        key_field = self.destination.key_field
        key_id = field_id(key_field)
        key_property = next((p for p in properties if field_id(p) == key_id), None)
        if key_id is None or key_property is None:
            raise DestinationConfigError(
                self.stream_name,
                f"key_field {key_field!r} is not a contact field of this account "
                "or not a property of the stream",
            )
        self.key_id = key_id
        self.key_property = key_property
        self.field_ids = {name: str(field_id(name)) for name in properties}
        self.opt_in_property = next(
            (name for name, fid in self.field_ids.items() if fid == OPT_IN_FIELD_ID), None
        )
        self.logger.info(
            "stream '%s' -> contacts keyed by %s (field %s)", self.stream_name, key_field, key_id
        )

    @override
    def describe_key(self, record: dict[str, Any]) -> str:
        """Contacts are named by their key field."""
        return f"{self.destination.key_field}={record.get(self.key_property)!r}"

    @override
    def prepare_row(self, record: dict[str, Any]) -> dict[str, Any]:
        """The contact keyed by field id; a contact without a key value never leaves."""
        key = record.get(self.key_property)
        if key is None or (isinstance(key, str) and not key.strip()):
            raise InvalidRowError(
                self.stream_name,
                self.describe_key(record),
                f"key field {self.destination.key_field} is empty",
            )
        row = {
            self.field_ids[name]: json_value(value)
            for name, value in record.items()
            if name in self.field_ids
        }
        if OPT_IN_FIELD_ID in row:
            value = row[OPT_IN_FIELD_ID]
            try:
                row[OPT_IN_FIELD_ID] = opt_in_choice(value)
            except ValueError:
                raise InvalidRowError(
                    self.stream_name,
                    self.describe_key(record),
                    f"opt-in field {self.opt_in_property} (31) has the value {value!r}, "
                    f"which is no opt-in; accepted: {OPT_IN_FORMS}",
                ) from None
        return row

    @override
    def plan_requests(self, pairs: list[Pair]) -> list[list[Pair]]:
        """Requests in which no contact appears twice, in the order its records came.

        Identical keys are merged (the last record wins). Keys that may name one contact
        (e-mails differing only in case, `contact_key`) are not merged, since Emarsys may
        keep them apart, but each spelling goes into a later request than the one before
        it: the spellings are ranked by their last record, rank 0 of every contact is sent
        first, rank 1 after it, and so on. `request_keys` keeps those requests from
        overlapping, so whichever reading the account has, the last record wins.
        """
        merged = self.last_per_key(pairs, self.row_key, at_last_position=True)
        ranks: dict[str, int] = {}
        ranked: list[list[Pair]] = []
        for pair in merged:
            contact = self.contact_key(pair[0])
            rank = ranks.get(contact, 0)
            ranks[contact] = rank + 1
            if rank == len(ranked):
                ranked.append([])
            ranked[rank].append(pair)
        return [request for group in ranked for request in self.within_limits(group)]

    def within_limits(self, pairs: list[Pair]) -> list[list[Pair]]:
        """Consecutive requests of at most `request_limit` contacts and `BODY_BUDGET` bytes.

        Sizes are measured as the client encodes the body (msgspec JSON). A contact that
        alone exceeds the budget can never be sent: it is rejected here (per
        `on_record_error`) instead of failing its whole request.
        """
        budget = BODY_BUDGET - _BODY_OVERHEAD - len(self.key_id)
        limit = self.request_limit
        encode = self._encoder.encode
        requests: list[list[Pair]] = []
        request: list[Pair] = []
        used = 0
        for pair in pairs:
            size = len(encode(pair[0])) + 1  # the comma before the next contact
            if size > budget:
                self.refuse(
                    pair[1],
                    f"the contact is {size - 1:,} bytes as JSON; a PUT /contact "
                    "body holds at most 8 MB (docs/emarsys-api.md §12.9)",
                )
                continue
            if request and (len(request) == limit or used + size > budget):
                requests.append(request)
                request, used = [], 0
            request.append(pair)
            used += size
        if request:
            requests.append(request)
        return requests

    def refuse(self, record: dict[str, Any], reason: str) -> None:
        """A row the target will not send: stop the run (`fail`) or keep it aside (`log`)."""
        key = self.describe_key(record)
        if self.fail_on_error:
            raise InvalidRowError(self.stream_name, key, reason)
        self.rejects.add(self.stream_name, key, reason, record)

    def row_key(self, row: dict[str, Any]) -> str:
        """The contact's key value as sent, as Emarsys reports per-key errors."""
        return str(row[self.key_id])

    def contact_key(self, row: dict[str, Any]) -> str:
        """The key value in the form two spellings of one contact share.

        Whether Emarsys matches e-mail keys (field 3) regardless of case is not documented
        (docs/emarsys-api.md §12.9), so e-mails that differ only in case are treated as
        possibly one contact; other key fields are compared exactly.
        """
        key = str(row[self.key_id])
        return key.casefold() if self.key_id == EMAIL_FIELD_ID else key

    @override
    def request_keys(self, request: list[Pair]) -> list[Hashable]:
        """Requests naming a contact (in any spelling of its key) never run at once."""
        return [self.contact_key(row) for row, _ in request]

    @override
    def write(self, request: list[Pair]) -> None:
        """One upsert call; contacts Emarsys refused are rejected by key.

        Should Emarsys still find the request too large (400, replyCode 1000, its limits being
        enforced as it sees them), the request is split in two and both halves are sent, one
        after the other, halving again as often as needed.
        """
        try:
            result = self.client.upsert_contacts(
                self.key_id, [row for row, _ in request], create_if_not_exists=True
            )
        except ValidationError as exc:
            if exc.reply_code != TOO_MANY_CONTACTS or len(request) < 2:
                raise
            half = len(request) // 2
            self.logger.warning(
                "stream '%s': Emarsys found %d contacts in one request too many (%s); "
                "sending them as %d and %d",
                self.stream_name,
                len(request),
                self.reason(exc),
                half,
                len(request) - half,
            )
            self.write(request[:half])
            self.write(request[half:])
            return
        if not result.errors:
            return
        by_key: dict[str, list[Pair]] = defaultdict(list)
        by_contact: dict[str, list[Pair]] = defaultdict(list)
        for pair in request:
            by_key[self.row_key(pair[0])].append(pair)
            by_contact[self.contact_key(pair[0])].append(pair)
        for key, problems in result.errors.items():
            reason = "; ".join(f"{text} (errorCode {code})" for code, text in problems)
            # An account that folds e-mail case may name the contact in its stored spelling.
            folded = key.casefold() if self.key_id == EMAIL_FIELD_ID else key
            self.reject(by_key.get(key) or by_contact.get(folded, []), reason)
