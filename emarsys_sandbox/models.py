"""The account as plain Python (no HTTP): contacts, activity, writes, exports, RDS, behavior.

Synthetic contacts and events are computed on demand from `(seed, index)` (see `synthetic`);
only what clients write (contacts, RDS rows, behavior events) and what `add_activity` appends is
stored.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from emarsys_sandbox import synthetic
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
    """A contact created or updated through `PUT /contact`."""

    id: int
    key_id: str
    key_value: str
    fields: dict[str, Any]
    created: bool


@dataclass
class Account:
    """The synthetic Emarsys account.

    Args:
        contacts: Number of base contacts N.
        seed: Seed of every generated value.
        responses: Number of base email-response events (default 2 N).
        timezone: IANA zone the account renders naive timestamps in.
    """

    contacts: int = 200
    seed: int = 7
    responses: int | None = None
    timezone: str = "Europe/Vienna"
    batches: list[ActivityBatch] = field(default_factory=list)
    written: list[WrittenContact] = field(default_factory=list)
    _by_key: dict[tuple[str, str], WrittenContact] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        """Typed value of field `field_id` for contact i (None = empty)."""
        return synthetic.CONTACT_VALUES[field_id](i, self.contact_hash(i))

    def find_contact(self, key_id: str, key_value: str) -> int | None:
        """Contact id of a synthetic or written contact with this key value, if any."""
        written = self._by_key.get((key_id, key_value))
        if written is not None:
            return written.id
        if key_id == "3":
            m = _EMAIL_INDEX.search(key_value)
            if m and int(m.group(1)) < self.total_contacts:
                i = int(m.group(1))
                if self.contact_value(3, i) == key_value:
                    return self.contact_id(i)
        return None

    def upsert_contacts(
        self, key_id: str, contacts: list[dict[str, Any]], create: bool
    ) -> tuple[list[str], dict[str, dict[str, str]]]:
        """`PUT /contact`: ids of the contacts written and per-key errors (reference 3.1)."""
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
                existing = self.find_contact(key_id, key_value)
                if existing is None and not create:
                    errors[key_value] = {"2008": f"No contact found with the external id: {key_id}"}
                    continue
                created = existing is None
                cid = (WRITTEN_ID_BASE + len(self.written)) if existing is None else existing
                record = WrittenContact(cid, key_id, key_value, dict(contact), created)
                self.written.append(record)
                self._by_key[(key_id, key_value)] = record
                ids.append(str(cid))
        return ids, errors

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
        for i in range(self.total_contacts):
            h = mix(seed, i)
            if member(i, h):
                yield (i, h, None, None)

    def in_audience(self, audience_id: int, i: int) -> bool:
        """Whether contact i belongs to a contact list or segment."""
        return synthetic.AUDIENCES[audience_id].member(i, mix(self.seed, i))

    # --- rendering ------------------------------------------------------------------------

    def local_time(self, ts: int) -> str:
        """Naive `YYYY-MM-DD HH:MM:SS` in the account zone (reference 9)."""
        return datetime.fromtimestamp(ts, self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def utc(self, ts: int) -> datetime:
        """Aware UTC datetime of unix seconds (ground truth form)."""
        return datetime.fromtimestamp(ts, timezone.utc)


def _known_field(key: str) -> bool:
    return key.isdigit() and int(key) in synthetic.FIELDS_BY_ID
