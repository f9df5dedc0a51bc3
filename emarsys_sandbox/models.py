"""The account as plain Python (no HTTP): contacts, activity, writes, exports, RDS, behavior.

Synthetic contacts and events are computed on demand from `(seed, index)` (see `synthetic`);
only what clients write (contacts, RDS rows, behavior events) and what `add_activity` appends is
stored.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from emarsys_sandbox import synthetic
from emarsys_sandbox.contacts import INVALID_VALUE, ContactValueError, api_value, typed_value
from emarsys_sandbox.synthetic import CONTACT_ID_BASE, EventClock, mix

# An export item: (contact index, contact hash, event unix seconds or None, response info).
# Response info is (kind "open"/"click", campaign, event hash) or None.
Item = tuple[int, int, int | None, tuple[str, synthetic.Campaign, int] | None]

_EMAIL_INDEX = re.compile(r"\.(\d+)@")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WRITTEN_ID_BASE = CONTACT_ID_BASE + 50_000_000


@dataclass(frozen=True)
class ActivityBatch:
    """Contacts added by `add_activity`: registered, changed and responding at one instant."""

    at: int
    start: int
    count: int


@dataclass
class WrittenContact:
    """One contact write through `PUT /contact`, with the contact id it resolved to."""

    id: int
    key_id: str
    key_value: str
    fields: dict[str, Any]
    created: bool


@dataclass(frozen=True)
class ContactData:
    """`contact/getdata` for a list of keys: per-key errors and the contacts found."""

    errors: list[dict[str, str]]
    result: list[dict[str, Any]]


@dataclass
class SyntheticAccount:
    """The synthetic Emarsys account.

    Args:
        contacts: Number of base contacts N.
        seed: Seed of every generated value.
        responses: Number of base email-response events (default 2 N).
        timezone: IANA zone the account renders naive timestamps in.
        email_keys_fold_case: Whether key_id 3 (e-mail) matches contacts without regard to
            case (docs/emarsys-api.md §12.9 leaves it open; exact match otherwise).
    """

    contacts: int = 200
    seed: int = 7
    responses: int | None = None
    timezone: str = "Europe/Vienna"
    email_keys_fold_case: bool = False
    batches: list[ActivityBatch] = field(default_factory=list)
    written: list[WrittenContact] = field(default_factory=list)
    # contact id -> fields as written, merged (a later write wins per field)
    _state: dict[int, dict[str, Any]] = field(default_factory=dict)
    # contact id -> typed values of written fields the synthetic account knows (exports)
    _typed: dict[int, dict[int, Any]] = field(default_factory=dict)
    # (field id, matching form of a written value) -> ids of contacts holding it
    _index: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    # (audience id, contact index) -> member or not, set by `set_membership`
    _memberships: dict[tuple[int, int], bool] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.timezone)
        n = self.contacts
        self.registration_clock = EventClock(math.ceil(n / 2))
        self.change_clock = EventClock(n)
        self.response_clock = EventClock(2 * n if self.responses is None else self.responses)
        self._change_step = synthetic.coprime_step(max(n, 1))
        self._response_step = synthetic.coprime_step(max(n, 1))

    # --- contacts -------------------------------------------------------------------------

    @property
    def total_contacts(self) -> int:
        """Base contacts plus those appended by `add_activity`."""
        return self.contacts + sum(b.count for b in self.batches)

    def contact_id(self, i: int) -> int:
        """The internal contact id (`user_id`) of contact index i."""
        return CONTACT_ID_BASE + i

    def contact_hash(self, i: int) -> int:
        """The hash all of contact i's values derive from."""
        return mix(self.seed, i)

    def contact_value(self, field_id: int, i: int) -> Any:
        """Typed value of field `field_id` for contact i (None = empty), writes included."""
        return self.contact_field(field_id)(i, self.contact_hash(i))

    def contact_field(self, field_id: int) -> Callable[[int, int], Any]:
        """`(i, h) -> value` of one field: the generated value unless a write replaced it."""
        generated = synthetic.CONTACT_VALUES[field_id]
        typed = self._typed

        def value(i: int, h: int) -> Any:
            if typed:
                written = typed.get(CONTACT_ID_BASE + i)
                if written is not None and field_id in written:
                    return written[field_id]
            return generated(i, h)

        return value

    def _match_form(self, key_id: str, value: Any) -> str:
        text = "" if value is None else str(value)
        return text.casefold() if key_id == "3" and self.email_keys_fold_case else text

    def find_contacts(self, key_id: str, key_value: str) -> list[int]:
        """Ids of every synthetic or written contact whose field `key_id` holds `key_value`.

        Synthetic contacts are found by e-mail only (key_id 3, their address names their index);
        any contact is found by a value written to it.
        """
        wanted = self._match_form(key_id, key_value)
        found = set(self._index.get((key_id, wanted), ()))
        if key_id == "3":
            m = _EMAIL_INDEX.search(key_value)
            if m and int(m.group(1)) < self.total_contacts:
                i = int(m.group(1))
                email = self.contact_value(3, i)
                if email is not None and self._match_form("3", email) == wanted:
                    found.add(self.contact_id(i))
        # a value written earlier may have been overwritten since
        return sorted(cid for cid in found if self._holds(cid, key_id, wanted))

    def _holds(self, cid: int, key_id: str, wanted: str) -> bool:
        fields = self._state.get(cid)
        if fields is not None and key_id in fields:
            return self._match_form(key_id, fields[key_id]) == wanted
        return cid < WRITTEN_ID_BASE  # a synthetic contact found by its generated e-mail

    def find_contact(self, key_id: str, key_value: str) -> int | None:
        """Contact id of the one contact with this key value (None: none, or several)."""
        found = self.find_contacts(key_id, key_value)
        return found[0] if len(found) == 1 else None

    def upsert_contacts(
        self, key_id: str, contacts: list[dict[str, Any]], create: bool
    ) -> tuple[list[str], dict[str, dict[str, str]]]:
        """`PUT /contact`: ids of the contacts written and per-key errors (docs/emarsys-api.md
        §3.1).
        """
        ids: list[str] = []
        errors: dict[str, dict[str, str]] = {}
        with self._lock:
            for contact in contacts:
                raw = contact.get(key_id) if isinstance(contact, dict) else None
                key_value = "" if raw is None else str(raw)
                if not isinstance(contact, dict) or not key_value:
                    errors[key_value] = {"2005": f"No value provided for key field: {key_id}"}
                    continue
                unknown = [k for k in contact if not _known_field(k)]
                if unknown:
                    errors[key_value] = {"2004": f"Invalid field id: {', '.join(unknown)}"}
                    continue
                email = contact.get("3")
                if email not in (None, "") and not _EMAIL_SHAPE.match(str(email)):
                    errors[key_value] = {"2011": "Invalid email address."}
                    continue
                try:
                    typed = {
                        int(k): typed_value(int(k), v)
                        for k, v in contact.items()
                        if int(k) in synthetic.CONTACT_VALUES
                    }
                except ContactValueError as exc:
                    errors[key_value] = {INVALID_VALUE: str(exc)}
                    continue
                found = self.find_contacts(key_id, key_value)
                if len(found) > 1:
                    errors[key_value] = {
                        "2010": f"More contacts found with the external id: {key_id}"
                    }
                    continue
                if not found and not create:
                    errors[key_value] = {"2008": f"No contact found with the external id: {key_id}"}
                    continue
                cid = found[0] if found else WRITTEN_ID_BASE + len(self.written)
                self._store(cid, dict(contact), typed)
                self.written.append(
                    WrittenContact(cid, key_id, key_value, dict(contact), not found)
                )
                ids.append(str(cid))
        return ids, errors

    def _store(self, cid: int, fields: dict[str, Any], typed: dict[int, Any]) -> None:
        state = self._state.setdefault(cid, {})
        for key, value in fields.items():
            if key in state:
                self._index.get((key, self._match_form(key, state[key])), set()).discard(cid)
            state[key] = value
            self._index.setdefault((key, self._match_form(key, value)), set()).add(cid)
        if typed:
            self._typed.setdefault(cid, {}).update(typed)

    def contact_state(self) -> dict[int, dict[str, Any]]:
        """Every contact written to: its fields as written, merged (a later write wins)."""
        with self._lock:
            return {cid: dict(fields) for cid, fields in self._state.items()}

    def contact_data(self, key_id: str, key_values: list[Any], fields: list[int]) -> ContactData:
        """`contact/getdata`: the contacts of `key_values` (docs/emarsys-api.md §6.4).

        A key matching no contact is a 2008 error, one matching several a 2010 error.
        """
        errors: list[dict[str, str]] = []
        result: list[dict[str, Any]] = []
        with self._lock:
            for raw in key_values:
                key = "" if raw is None else str(raw)
                found = self.find_contacts(key_id, key) if key else []
                if not key:
                    errors.append(
                        _key_error(key, "2005", f"No value provided for key field: {key_id}")
                    )
                elif not found:
                    errors.append(
                        _key_error(key, "2008", f"No contact found with the external id: {key_id}")
                    )
                elif len(found) > 1:
                    errors.append(
                        _key_error(
                            key, "2010", f"More contacts found with the external id: {key_id}"
                        )
                    )
                else:
                    result.append(self._contact_record(found[0], fields))
        return ContactData(errors, result)

    def _contact_record(self, cid: int, fields: list[int]) -> dict[str, Any]:
        record: dict[str, Any] = {"id": str(cid), "uid": f"{mix(self.seed, cid):016x}"[:10]}
        index = cid - CONTACT_ID_BASE if cid < WRITTEN_ID_BASE else None
        state = self._state.get(cid, {})
        typed = self._typed.get(cid, {})
        for fid in fields:
            if fid in typed:
                value = api_value(fid, typed[fid])
            elif index is not None and fid in synthetic.CONTACT_VALUES:
                value = api_value(fid, self.contact_value(fid, index))
            else:
                raw = state.get(str(fid))
                value = None if raw in (None, "") else str(raw)
            record[str(fid)] = value
        return record

    # --- memberships ----------------------------------------------------------------------

    def set_membership(self, audience_id: int, contact_id: int, member: bool) -> None:
        """Put a synthetic contact into, or take it out of, a contact list or segment.

        Raises:
            KeyError: the audience or the contact is unknown (the message names which).
        """
        if audience_id not in synthetic.AUDIENCES:
            raise KeyError(f"no contact list or segment {audience_id}")
        i = contact_id - CONTACT_ID_BASE
        if not 0 <= i < self.total_contacts:
            raise KeyError(f"no synthetic contact {contact_id}")
        with self._lock:
            self._memberships[(audience_id, i)] = member

    # --- activity -------------------------------------------------------------------------

    def add_activity(self, at: datetime, contacts: int) -> None:
        """Append `contacts` new contacts registering, changing and responding at `at`."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        with self._lock:
            batch = ActivityBatch(int(at.timestamp()), self.total_contacts, contacts)
            self.batches.append(batch)

    def _batches_between(self, start: int, end: int) -> list[ActivityBatch]:
        return sorted((b for b in self.batches if start <= b.at < end), key=lambda b: b.at)

    def registrations(self, start: int, end: int) -> Iterator[Item]:
        """Form registrations in [start, end): every even base contact, then added ones."""
        clock = self.registration_clock
        for j in clock.between(start, end):
            i = 2 * j
            yield (i, mix(self.seed, i), clock.at(j), None)
        for b in self._batches_between(start, end):
            for i in range(b.start, b.start + b.count):
                yield (i, mix(self.seed, i), b.at, None)

    def changes(self, start: int, end: int) -> Iterator[tuple[Item, str, int]]:
        """Contact changes in [start, end) with their origin (`form`/`api`) and origin id."""
        clock = self.change_clock
        n = self.contacts
        step = self._change_step
        offset = self.seed % max(n, 1)
        for j in clock.between(start, end):
            i = (step * j + offset) % n
            origin, origin_id = ("form", 1 + i % 2) if i % 3 == 0 else ("api", 0)
            yield (i, mix(self.seed, i), clock.at(j), None), origin, origin_id
        for b in self._batches_between(start, end):
            for i in range(b.start, b.start + b.count):
                yield (i, mix(self.seed, i), b.at, None), "form", 1

    def email_responses(self, start: int, end: int) -> Iterator[Item]:
        """Opens and clicks in [start, end): event 2k is an open, 2k+1 its click."""
        clock = self.response_clock
        n = max(self.contacts, 1)
        step = self._response_step
        campaigns = synthetic.RESPONDED_CAMPAIGNS
        for j in clock.between(start, end):
            k = j // 2
            i = (step * k + 3) % n
            campaign = campaigns[k % len(campaigns)]
            info = ("open" if j % 2 == 0 else "click", campaign, mix(self.seed + 1, j))
            yield (i, mix(self.seed, i), clock.at(j), info)
        for b in self._batches_between(start, end):
            for i in range(b.start, b.start + b.count):
                h = mix(self.seed, i)
                for kind in ("open", "click"):
                    yield (i, h, b.at, (kind, campaigns[0], mix(self.seed + 2, i)))

    def members(self, audience_id: int) -> Iterator[Item]:
        """Contacts of a contact list or segment, in contact id order."""
        member = synthetic.AUDIENCES[audience_id].member
        seed = self.seed
        changed = self._memberships or self._typed
        for i in range(self.total_contacts):
            h = mix(seed, i)
            if self._is_member(audience_id, i, h) if changed else member(i, h):
                yield (i, h, None, None)

    def in_audience(self, audience_id: int, i: int) -> bool:
        """Whether contact i belongs to a contact list or segment."""
        return self._is_member(audience_id, i, mix(self.seed, i))

    def _is_member(self, audience_id: int, i: int, h: int) -> bool:
        """Membership set by `set_membership`, else the segment rule over the current values."""
        forced = self._memberships.get((audience_id, i))
        if forced is not None:
            return forced
        audience = synthetic.AUDIENCES[audience_id]
        if audience.field_id is not None:
            written = self._typed.get(CONTACT_ID_BASE + i)
            if written is not None and audience.field_id in written:
                return written[audience.field_id] == audience.value
        return audience.member(i, h)

    # --- rendering ------------------------------------------------------------------------

    def local_time(self, ts: int) -> str:
        """Naive `YYYY-MM-DD HH:MM:SS` in the account zone (docs/emarsys-api.md §9)."""
        return datetime.fromtimestamp(ts, self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def utc(self, ts: int) -> datetime:
        """Aware UTC datetime of unix seconds (ground truth form)."""
        return datetime.fromtimestamp(ts, timezone.utc)


def _known_field(key: str) -> bool:
    return key.isdigit() and int(key) in synthetic.FIELDS_BY_ID


def _key_error(key: str, code: str, text: str) -> dict[str, str]:
    return {"key": key, "errorCode": code, "errorMsg": text}
