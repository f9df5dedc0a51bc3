"""The deterministic synthetic account: contact fields, contacts, campaigns, lists, activity.

Nothing is materialised: contact `i` and activity event `j` are pure functions of
`(seed, i)` / `(seed, j)`, so a 1,000,000-contact account costs nothing to create and exports
stream with flat memory. Values are hostile on purpose (commas, quotes, semicolons, embedded
CR/LF, non-ASCII, empty fields) and the activity span crosses the CET -> CEST change of
2026-03-29 (docs/emarsys-api.md §9: exports render naive Vienna time).

Sizes: `contacts` = N; form registrations in the span = ceil(N / 2) (every even contact);
changes = N (each contact once); email responses = `responses` (default 2 N: an open, then a
click), plus whatever `add_activity` appends.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

VIENNA = ZoneInfo("Europe/Vienna")
SPAN_START = int(datetime(2026, 3, 15, tzinfo=VIENNA).timestamp())
SPAN_END = int(datetime(2026, 4, 13, tzinfo=VIENNA).timestamp())
DST_CHANGE = int(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc).timestamp())
CONTACT_ID_BASE = 1_000_000
CUSTOMER_ID = 987654321

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Field:
    """One contact field as `GET /field` describes it (docs/emarsys-api.md §6.4, §9)."""

    id: int
    name: str
    name_de: str
    application_type: str
    string_id: str
    exportable: bool = True

    def label(self, language: str) -> str:
        """The CSV header label in `language` (English for anything but `de`)."""
        return self.name_de if language == "de" else self.name


FIELDS: tuple[Field, ...] = (
    Field(0, "Interests", "Interessen", "interests", "interests"),
    Field(1, "First Name", "Vorname", "shorttext", "first_name"),
    Field(2, "Last Name", "Nachname", "shorttext", "last_name"),
    Field(3, "E-Mail", "E-Mail", "longtext", "email"),
    Field(4, "Date of Birth", "Geburtsdatum", "birthdate", "birth_date"),
    Field(5, "Gender", "Geschlecht", "singlechoice", "gender"),
    Field(9, "Title", "Titel", "singlechoice", "title"),
    Field(11, "City", "Stadt", "shorttext", "city"),
    Field(14, "Country", "Land", "singlechoice", "country"),
    Field(18, "Company", "Firma", "shorttext", "company"),
    Field(27, "Avg. length of visit", "Durchschn. Besuchsdauer", "numeric", "avg_visit", False),
    Field(28, "Page views per day", "Seitenaufrufe pro Tag", "numeric", "page_views", False),
    Field(29, "Days since last e-mail sent", "Tage seit letzter E-Mail", "numeric", "days", False),
    Field(31, "Opt-In", "Opt-In", "singlechoice", "optin"),
    Field(32, "User status", "Benutzerstatus", "special", "user_status", False),
    Field(33, "Contact source", "Kontaktquelle", "special", "contact_source", False),
    Field(48, "Date of first registration", "Datum der Erstregistrierung", "date", "first_reg"),
    Field(1000, "Loyalty Points", "Treuepunkte", "numeric", "loyalty_points"),
    Field(1001, "Last Purchase", "Letzter Einkauf", "date", "last_purchase"),
    Field(1002, "Favourite Colour", "Lieblingsfarbe", "singlechoice", "favourite_colour"),
    Field(1003, "Notes; remarks", "Notizen; Bemerkungen", "shorttext", "notes"),
    # Its string_id snake-cases to `first_name`, clashing with field 1 on purpose: a connector
    # must keep two fields apart whose names snake-case alike.
    Field(1004, "First Name (legacy)", "Vorname (alt)", "shorttext", "First-Name"),
    # Enough exportable fields that a tap asking for more than 20 (Emarsys's cap per export)
    # really needs two exports per window, as real accounts with many custom fields do.
    Field(1005, "Preferred Store", "Bevorzugte Filiale", "shorttext", "preferred_store"),
    Field(1006, "Membership Level", "Mitgliedsstufe", "singlechoice", "membership_level"),
    Field(1007, "Lifetime Value", "Kundenwert", "numeric", "lifetime_value"),
    Field(1008, "Signup Date", "Anmeldedatum", "date", "signup_date"),
    Field(1009, "Referral Code", "Empfehlungscode", "shorttext", "referral_code"),
    Field(1010, "Shoe Size (EU)", "Schuhgröße (EU)", "numeric", "shoe_size_eu"),
)
FIELDS_BY_ID = {f.id: f for f in FIELDS}

FIRST_NAMES = (
    "Ann", "Jürgen", "Zoë", "O'Brien", 'Anne "Annie"', "Smith, Jr.", "Semi;colon",
    "Multi\nLine", "Carriage\r\nReturn", "日本", "Emoji 😀", "", "Ærøskøbing", "Hans-Peter",
    "Straße", "Léa",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Großmann", "Smith", "Nguyễn", "García", "de la Cruz", "Semi;Colon",
    'Quote"d', "Comma, Inc", "", "山田", "Ölçer",
)  # fmt: skip
EMAIL_LOCALS = ("ann", "o'brien", "j.mueller", "zoe+news", "x_y")
EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.at")
GENDERS = ("", "Male", "Female")
TITLES = ("", "Dr.", "Prof.", "Mag.")
CITIES = ("Wien", "München", "Zürich", "Kraków", "São Paulo", "東京", "New York, NY", "")
COUNTRIES = ("Austria", "Germany", "United Kingdom", "Côte d'Ivoire", "Japan", "")
COMPANIES = ("Emarsys", 'ACME "Rockets", Inc.', "Müller & Söhne; GmbH", "", "Line1\r\nLine2")
COLOURS = ("Red", "Blue, light", 'Green "lime"', "Gelb; hell", "Weiß", "")
NOTES = (
    "Call back; after 5pm", 'He said "hi"', "multi\nline\nnote", "emoji 🎉 party", "",
    "日本語のメモ", "tab\tseparated", "trailing space ", "a,b,c",
)  # fmt: skip


def mix(seed: int, i: int) -> int:
    """A 64-bit hash of (seed, i): the only source of variety, so row i is reproducible."""
    x = (i * 0x9E3779B97F4A7C15 + (seed + 1) * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) & _MASK
    return x ^ (x >> 32)


def _pick(options: tuple[str, ...], h: int, shift: int) -> str:
    return options[(h >> shift) % len(options)]


def _text(options: tuple[str, ...], shift: int) -> Callable[[int, int], str | None]:
    def value(i: int, h: int) -> str | None:
        return options[(h >> shift) % len(options)] or None

    return value


def _email(i: int, h: int) -> str | None:
    if h % 97 == 0:
        return None
    return f"{_pick(EMAIL_LOCALS, h, 3)}.{i}@{_pick(EMAIL_DOMAINS, h, 7)}"


def _birth_date(i: int, h: int) -> date | None:
    if (h >> 40) % 11 == 0:
        return None
    return date(1950, 1, 1) + timedelta(days=(h >> 20) % 20000)


def _optin(i: int, h: int) -> str | None:
    return ("", "False", "True", "True", "True")[(h >> 30) % 5] or None


def _loyalty(i: int, h: int) -> int | float | None:
    r = (h >> 33) % 1000
    if r % 13 == 0:
        return None
    return r + 0.5 if r % 3 == 0 else r


def _last_purchase(i: int, h: int) -> date | None:
    if (h >> 50) % 4 == 0:
        return None
    return date(2025, 6, 1) + timedelta(days=(h >> 12) % 300)


def _first_registration(i: int, h: int) -> date | None:
    return date(2025, 1, 1) + timedelta(days=i % 365)


STORES = ("Wien Mitte", "Graz, Hauptplatz", 'Linz "Arkade"', "", "Salzburg; Altstadt")
LEVELS = ("", "Bronze", "Silver", "Gold", "Platinum")
REFERRAL_CODES = ("ABC-123", "", "ÜBER;2026", 'q"uote', "line\nbreak")


def _lifetime_value(i: int, h: int) -> int | float | None:
    r = (h >> 21) % 5000
    if r % 17 == 0:
        return None
    return r / 4 if r % 4 else r // 4


def _signup_date(i: int, h: int) -> date | None:
    if (h >> 9) % 6 == 0:
        return None
    return date(2020, 1, 1) + timedelta(days=(h >> 15) % 2000)


def _shoe_size(i: int, h: int) -> int | float | None:
    r = (h >> 5) % 30
    return None if r == 0 else 35 + r / 2


def _interests(i: int, h: int) -> str | None:
    return None


CONTACT_VALUES: dict[int, Callable[[int, int], object]] = {
    0: _interests,
    1: _text(FIRST_NAMES, 0),
    2: _text(LAST_NAMES, 8),
    3: _email,
    4: _birth_date,
    5: _text(GENDERS, 24),
    9: _text(TITLES, 14),
    11: _text(CITIES, 17),
    14: _text(COUNTRIES, 36),
    18: _text(COMPANIES, 27),
    31: _optin,
    48: _first_registration,
    1000: _loyalty,
    1001: _last_purchase,
    1002: _text(COLOURS, 45),
    1003: _text(NOTES, 53),
    1004: _text(FIRST_NAMES, 44),
    1005: _text(STORES, 10),
    1006: _text(LEVELS, 19),
    1007: _lifetime_value,
    1008: _signup_date,
    1009: _text(REFERRAL_CODES, 23),
    1010: _shoe_size,
}


@dataclass(frozen=True)
class Campaign:
    """An email campaign (`GET /email/`) and its launches (`getlaunchesofemail`)."""

    id: int
    name: str
    category: str
    launches: tuple[tuple[int, str, str], ...]  # (launch id, done "y"/"n", launch date)
    deleted: bool = False


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(5001, "Spring Sale 2026", "Sales", ((7001, "y", "2026-03-16"),)),
    Campaign(
        5002,
        'Newsletter "März"; Edition',
        "Newsletter",
        ((7002, "y", "2026-03-20"), (7003, "y", "2026-04-02")),
    ),
    Campaign(5003, "Welcome, new friends", "Onboarding", ((7004, "y", "2026-03-25"),)),
    Campaign(5004, "日本 launch 🎉", "Sales", ((7005, "n", "2026-04-11"),)),
    Campaign(5005, "Deleted campaign", "Misc", ((7006, "y", "2026-03-18"),), deleted=True),
    Campaign(5006, "Draft, never sent", "Misc", ()),
)
RESPONDED_CAMPAIGNS = CAMPAIGNS[:4]
CAMPAIGNS_BY_ID = {c.id: c for c in CAMPAIGNS}
LINK_TITLES = ("Shop now", 'Read "more"', "Unsubscribe, please", "日本のリンク")
LINK_URLS = (
    "https://example.com/p?id=1&x=y",
    "https://example.com/a,b;c",
    "https://example.at/ümlaut",
)


@dataclass(frozen=True)
class Audience:
    """A contact list or a segment: a membership rule over contact indexes.

    A segment defined by a field value also names that field (`field_id`, `value`), so the
    account can re-evaluate it for a contact whose fields were written through `PUT /contact`;
    `member` is the same rule over the generated values.
    """

    id: int
    name: str
    member: Callable[[int, int], bool]
    created: str
    field_id: int | None = None
    value: str | None = None


CONTACT_LISTS: tuple[Audience, ...] = (
    Audience(101, "All contacts", lambda i, h: True, "2026-01-10 09:00:00"),
    Audience(102, "Even; contacts", lambda i, h: i % 2 == 0, "2026-02-01 12:30:00"),
    Audience(103, 'VIP "Gold", AT', lambda i, h: i % 10 == 3, "2026-03-01 08:15:00"),
)
SEGMENTS: tuple[Audience, ...] = (
    Audience(
        201, "Opted in", lambda i, h: _optin(i, h) == "True", "2026-01-05 10:00:00", 31, "True"
    ),
    Audience(
        202,
        "Austria",
        lambda i, h: _text(COUNTRIES, 36)(i, h) == "Austria",
        "2026-02-02",
        14,
        "Austria",
    ),
    Audience(203, "Nobody", lambda i, h: False, "2026-02-03 00:00:00"),
)
AUDIENCES = {a.id: a for a in CONTACT_LISTS + SEGMENTS}


class EventClock:
    """Times of `count` events spread evenly over the activity span, monotone in the index.

    Two neighbouring events are pinned to the last CET second and the first CEST second of
    2026-03-29, so exports always show the DST jump (01:59:59 -> 03:00:00 local).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._pins: dict[int, int] = {}
        if count >= 2:
            j0 = bisect.bisect_left(range(count), DST_CHANGE, key=self._base) - 1
            if 0 <= j0 < count - 1:
                self._pins = {j0: DST_CHANGE - 1, j0 + 1: DST_CHANGE}

    def _base(self, j: int) -> int:
        return SPAN_START + (j * (SPAN_END - SPAN_START)) // self.count

    def at(self, j: int) -> int:
        """Unix seconds of event j."""
        pinned = self._pins.get(j)
        return pinned if pinned is not None else self._base(j)

    def between(self, start: int, end: int) -> range:
        """Indexes of the events in the half-open interval [start, end)."""
        lo = bisect.bisect_left(range(self.count), start, key=self.at)
        hi = bisect.bisect_left(range(self.count), end, key=self.at)
        return range(lo, max(lo, hi))


def coprime_step(n: int) -> int:
    """A multiplier coprime to n, so j -> (a j + b) mod n permutes the contacts."""
    a = max(1, int(n * 0.618)) | 1
    while math.gcd(a, n) != 1:
        a += 2
    return a
