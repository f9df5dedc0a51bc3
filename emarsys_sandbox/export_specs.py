"""The five asynchronous CSV exports: body validation, columns, rows (docs/emarsys-api.md §4, §5).

`ExportSpec.parse` applies the validation of docs/emarsys-api.md §4.3 (400 / 10001 texts); `columns`
and `items` describe the CSV of docs/emarsys-api.md §4.4; `typed_rows` is the ground truth the tests
compare a download with, `csv_rows` what the download contains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from emarsys_sandbox import synthetic
from emarsys_sandbox.exceptions import InvalidParameter
from emarsys_sandbox.models import Item, SyntheticAccount
from emarsys_sandbox.options import DEFAULT_VARIANTS, ExportVariants
from emarsys_sandbox.synthetic import CONTACT_ID_BASE

CHANGES = "contact/getchanges"
REGISTRATIONS = "contact/getregistrations"
RESPONSES = "email/getresponses"
CONTACT_LIST = "email/getcontacts"
SEGMENT = "export/filter"
EXPORT_TYPES = (CHANGES, REGISTRATIONS, RESPONSES, CONTACT_LIST, SEGMENT)

# `type` in GET /export/{id}: only Responses/Registrations are documented (docs/emarsys-api.md
# §5.1).
TYPE_NAMES = {
    CHANGES: "Changes",
    REGISTRATIONS: "Registrations",
    RESPONSES: "Responses",
    CONTACT_LIST: "Contactlist",
    SEGMENT: "Segment",
}
_DISTRIBUTION = {
    CHANGES: ("local", "ftp", "sftp"),
    REGISTRATIONS: ("local", "ftp", "sftp"),
    RESPONSES: ("local", "ftp", "sftp"),
    CONTACT_LIST: ("local", "ftp", "sftp", "mail"),
    SEGMENT: ("local", "ftp", "sftp", "mail"),
}
# distribution_keys="documented" (docs/emarsys-api.md §12.6): getresponses takes no `sftp`,
# and each export takes its (S)FTP server under one key only.
_DOCUMENTED = {**_DISTRIBUTION, RESPONSES: ("local", "ftp")}
DOCUMENTED_SETTINGS_KEYS = {
    CHANGES: "ftp_settings",
    REGISTRATIONS: "sftp_settings",
    RESPONSES: "ftp_settings",
    CONTACT_LIST: "sftp_settings",
    SEGMENT: "ftp_settings",
}
SOURCES = {
    "trackable_links": "click",
    "mail_open": "open",
    "registration_forms": None,
    "tell_a_friend": None,
    "contact_us": None,
    "change_profile": None,
    "unsubscribe": None,
    "complaint": None,
}
MAX_FIELDS = 20
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")

Getter = Callable[[Item], Any]


@dataclass(frozen=True)
class Column:
    """One CSV column: labels, how to get its typed value from an item, how to render it."""

    label: str
    label_de: str
    kind: str  # "int", "text", "numeric", "date", "stamp"
    get: Getter


def _analysis(kind: str, get: Callable[[str, synthetic.Campaign, int], Any]) -> Getter:
    def value(item: Item) -> Any:
        info = item[3]
        return None if info is None else get(*info)

    value.__name__ = kind
    return value


def _click_only(values: tuple[str, ...]) -> Callable[[str, synthetic.Campaign, int], Any]:
    def value(kind: str, campaign: synthetic.Campaign, h: int) -> Any:
        return values[h % len(values)] if kind == "click" else None

    return value


# docs/emarsys-api.md §4.2: analysis field id -> (English label, German label, kind, value).
ANALYSIS_FIELDS: dict[int, tuple[str, str, str, Callable[[str, synthetic.Campaign, int], Any]]] = {
    1: ("Campaign title", "Kampagnentitel", "text", lambda k, c, h: c.name),
    2: ("Section header", "Abschnittsüberschrift", "text", _click_only(("Top; Deals", "News"))),
    3: ("Section group", "Abschnittsgruppe", "text", _click_only(("Main", "Footer, small"))),
    4: ("Link title", "Linktitel", "text", _click_only(synthetic.LINK_TITLES)),
    5: ("Url", "Url", "text", _click_only(synthetic.LINK_URLS)),
    8: ("Time", "Zeit", "stamp", lambda k, c, h: None),  # filled from the item's time
    12: ("Campaign ID", "Kampagnen-ID", "int", lambda k, c, h: c.id),
    13: ("Version name", "Version Name", "text", lambda k, c, h: ("A", "B", "")[h % 3] or None),
    14: ("Campaign category", "Kampagnenkategorie", "text", lambda k, c, h: c.category),
    15: ("Link category", "Linkkategorie", "text", _click_only(("Product", "Info; misc"))),
}
_FIELD_KIND = {
    "numeric": "numeric",
    "date": "date",
    "birthdate": "date",
}
# header_labels="variant": CSV labels (by English label) that differ from the `GET /field`
# names, one of each kind the sources show (docs/emarsys-api.md §4.4, §12.3): case
# (`E-mail`), hyphen/space (`Opt in`), a label kept while the field was renamed (1001 here;
# 1000 is the other way round, see `VARIANT_FIELD_NAMES`), a German label under `language`
# en, and analysis/extra labels in another case (`Last Update`).
VARIANT_HEADER_LABELS = {
    "First Name": "First name",
    "E-Mail": "E-mail",
    "Opt-In": "Opt in",
    "Last Name": "Nachname",
    "Last Purchase": "Last Purchase Date",
    "First Name (legacy)": "First-Name (legacy)",
    "Campaign title": "Campaign Title",
    "Url": "URL",
    "last update": "Last Update",
}
# header_labels="variant": `GET /field` names of fields renamed after the export label was
# fixed (the CSV keeps the old label).
VARIANT_FIELD_NAMES = {1000: "Loyalty Score"}


@dataclass(frozen=True)
class ExportSpec:
    """A validated export request body."""

    export_type: str
    distribution_method: str
    contact_fields: tuple[int, ...]
    start: int | None = None
    end: int | None = None
    origin: str = "all"
    origin_id: int = 0
    sources: tuple[str, ...] = ()
    analysis_fields: tuple[int, ...] = ()
    email_id: int | None = None
    contactlist: int | None = None
    segment: int | None = None
    with_timestamp: bool = True
    delimiter: str = ","
    header: bool = True
    language: str = "en"
    variants: ExportVariants = DEFAULT_VARIANTS
    server_settings_key: str | None = None  # the body key that holds the (S)FTP server

    @classmethod
    def parse(
        cls,
        export_type: str,
        body: Any,
        account: SyntheticAccount,
        variants: ExportVariants = DEFAULT_VARIANTS,
    ) -> ExportSpec:
        """Validate a request body per docs/emarsys-api.md §4.3; InvalidParameter (400/10001) if
        wrong.
        """
        if not isinstance(body, dict):
            raise InvalidParameter("Invalid payload: a JSON object is expected")
        b: dict[str, Any] = body
        method = _required(b, "distribution_method")
        if method not in _DISTRIBUTION[export_type] or (
            variants.distribution_keys == "documented" and method not in _DOCUMENTED[export_type]
        ):
            raise InvalidParameter(f"Invalid distribution method: {method}")
        settings_key = _server_settings_key(export_type, str(method), b, variants)
        if method == "mail" and "distribution_email_address" not in b:
            raise InvalidParameter("Missing parameter: distribution_email_address")
        fields = _contact_fields(_required(b, "contact_fields"))
        kwargs: dict[str, Any] = {}
        if export_type in (CHANGES, REGISTRATIONS, RESPONSES):
            kwargs["start"], kwargs["end"] = _time_range(
                _required(b, "time_range"), account, dates_only=export_type == CHANGES
            )
        if export_type == CHANGES:
            origin = _required(b, "origin")
            if origin not in ("form", "api", "all"):
                raise InvalidParameter(f"Invalid origin: {origin}")
            kwargs["origin"] = origin
            kwargs["origin_id"] = _integer(_required(b, "origin_id"), "origin_id")
        if export_type == RESPONSES:
            kwargs["sources"] = _sources(_required(b, "sources"))
            analysis = _analysis_fields(_required(b, "analysis_fields"))
            if len(fields) + len(analysis) > MAX_FIELDS:
                raise InvalidParameter("Invalid number of fields")
            kwargs["analysis_fields"] = analysis
            if b.get("email_id") not in (None, ""):
                kwargs["email_id"] = _integer(b["email_id"], "email_id")
        if export_type in (REGISTRATIONS, RESPONSES) and b.get("contactlist") not in (None, ""):
            kwargs["contactlist"] = _audience(b["contactlist"], "contactlist")
        if export_type == CONTACT_LIST:
            kwargs["contactlist"] = _audience(_required(b, "contactlist"), "contactlist")
        if export_type == SEGMENT:
            kwargs["segment"] = _audience(_required(b, "filter"), "filter")
        if export_type == REGISTRATIONS:
            kwargs["with_timestamp"] = _flag(b, "with_timestamp")
        delimiter = b.get("delimiter", ",")
        if delimiter not in (",", ";"):
            raise InvalidParameter(f"Invalid value for delimiter: {delimiter}")
        language = b.get("language", "en")
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise InvalidParameter(f"Invalid value for language: {language}")
        return cls(
            export_type=export_type,
            distribution_method=str(method),
            contact_fields=fields,
            delimiter=delimiter,
            header=_flag(b, "add_field_names_header"),
            language=language,
            variants=variants,
            server_settings_key=settings_key,
            **kwargs,
        )

    # --- shape ----------------------------------------------------------------------------

    @property
    def has_user_id(self) -> bool:
        """Whether the CSV starts with `user_id` (list and segment exports may lack it, §12.1)."""
        return self.export_type not in (CONTACT_LIST, SEGMENT) or self.variants.member_user_id

    def columns(self, account: SyntheticAccount) -> list[Column]:
        """The CSV columns in order (docs/emarsys-api.md §4.4; `user_id` first, see
        `has_user_id`).
        """
        cols: list[Column] = []
        if self.has_user_id:
            cols.append(Column("user_id", "user_id", "int", lambda it: CONTACT_ID_BASE + it[0]))
        for fid in self.contact_fields:
            f = synthetic.FIELDS_BY_ID[fid]
            value = account.contact_field(fid)
            kind = _FIELD_KIND.get(f.application_type, "text")
            cols.append(Column(f.name, f.name_de, kind, _contact_getter(value)))
        for aid in self.analysis_fields:
            label, label_de, kind, get = ANALYSIS_FIELDS[aid]
            getter = _stamp if aid == 8 else _analysis(label, get)
            cols.append(Column(label, label_de, kind, getter))
        if (self.export_type == CHANGES and self.variants.changes_last_update) or (
            self.export_type == REGISTRATIONS and self.with_timestamp
        ):
            cols.append(Column("last update", "last update", "stamp", _stamp))
        if self.export_type == RESPONSES:
            cols.append(Column("source", "source", "text", _source))
        return cols

    def items(self, account: SyntheticAccount) -> Iterator[Item]:
        """The export's rows as items, in the order the CSV has them."""
        assert self.start is not None or self.export_type in (CONTACT_LIST, SEGMENT)
        if self.export_type == CONTACT_LIST:
            assert self.contactlist is not None
            yield from account.members(self.contactlist)
        elif self.export_type == SEGMENT:
            assert self.segment is not None
            yield from account.members(self.segment)
        elif self.export_type == REGISTRATIONS:
            assert self.start is not None and self.end is not None
            for item in account.registrations(self.start, self.end):
                if self.contactlist is None or account.in_audience(self.contactlist, item[0]):
                    yield item
        elif self.export_type == CHANGES:
            assert self.start is not None and self.end is not None
            for item, origin, origin_id in account.changes(self.start, self.end):
                if self.origin not in ("all", origin):
                    continue
                if self.origin_id and origin_id != self.origin_id:
                    continue
                yield item
        else:
            assert self.start is not None and self.end is not None
            kinds = {SOURCES[s] for s in self.sources}
            for item in account.email_responses(self.start, self.end):
                info = item[3]
                assert info is not None
                if info[0] not in kinds:
                    continue
                if self.email_id is not None and info[1].id != self.email_id:
                    continue
                if self.contactlist is not None and not account.in_audience(
                    self.contactlist, item[0]
                ):
                    continue
                yield item

    def header_labels(self, account: SyntheticAccount) -> list[str]:
        """Header labels in the requested language (German for `de`, English otherwise).

        With `header_labels="variant"` the English labels are spelled as some accounts show
        them (`VARIANT_HEADER_LABELS`); ground truth stays keyed by the exact English labels.
        """
        if self.language == "de":
            return [c.label_de for c in self.columns(account)]
        labels = [c.label for c in self.columns(account)]
        if self.variants.header_labels == "variant":
            return [VARIANT_HEADER_LABELS.get(label, label) for label in labels]
        return labels

    def typed_rows(self, account: SyntheticAccount) -> Iterator[dict[str, Any]]:
        """Ground truth: rows keyed by English label, values typed (see docs/interfaces.md)."""
        cols = self.columns(account)
        for item in self.items(account):
            row: dict[str, Any] = {}
            for c in cols:
                v = c.get(item)
                row[c.label] = account.utc(v) if (c.kind == "stamp" and v is not None) else v
            yield row

    def csv_rows(self, account: SyntheticAccount) -> Iterator[list[str]]:
        """Data rows as the CSV strings Emarsys renders (no header)."""
        cols = self.columns(account)
        pairs = [(c.get, _renderer(c.kind, account)) for c in cols]
        # `user_id` and the contact fields depend on the contact alone; consecutive rows of one
        # contact (an open and its click) reuse the rendered cells.
        contact_columns = int(self.has_user_id) + len(self.contact_fields)
        per_contact, per_row = pairs[:contact_columns], pairs[contact_columns:]
        last_contact: tuple[int, int] | None = None
        contact_cells: list[str] = []
        for item in self.items(account):
            contact = (item[0], item[1])
            if contact != last_contact:
                contact_cells = [r(g(item)) for g, r in per_contact]
                last_contact = contact
            yield contact_cells + [r(g(item)) for g, r in per_row]


def _contact_getter(value: Callable[[int, int], Any]) -> Getter:
    def get(item: Item) -> Any:
        return value(item[0], item[1])

    return get


def _stamp(item: Item) -> Any:
    return item[2]


def _source(item: Item) -> Any:
    return None if item[3] is None else item[3][0]


def _text_cell(v: Any) -> str:
    return "" if v is None else str(v)


def _numeric_cell(v: Any) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _date_cell(v: Any) -> str:
    return "" if v is None else v.isoformat()


def _renderer(kind: str, account: SyntheticAccount) -> Callable[[Any], str]:
    if kind == "stamp":
        return lambda v: "" if v is None else account.local_time(v)
    if kind == "numeric":
        return _numeric_cell
    if kind == "date":
        return _date_cell
    return _text_cell


def _server_settings_key(
    export_type: str, method: str, body: dict[str, Any], variants: ExportVariants
) -> str | None:
    """The body key holding an `ftp`/`sftp` export's server (None for `local`, `mail`).

    `distribution_keys="any"` takes `sftp_settings` or `ftp_settings` for either method (the
    sources name both, §12.6), the method's own name first; `"documented"` only the export's
    key of `DOCUMENTED_SETTINGS_KEYS`. Missing: 400/10001 naming the key expected.
    """
    if method not in ("ftp", "sftp"):
        return None
    if variants.distribution_keys == "documented":
        accepted: tuple[str, ...] = (DOCUMENTED_SETTINGS_KEYS[export_type],)
    else:
        own = f"{method}_settings"
        accepted = (own, "ftp_settings" if method == "sftp" else "sftp_settings")
    for key in accepted:
        if key in body:
            return key
    raise InvalidParameter(f"Missing parameter: {accepted[0]}")


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise InvalidParameter(f"Missing parameter: {name}")
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid data format for {name}. Integer expected")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise InvalidParameter(f"Invalid data format for {name}. Integer expected")


def _audience(value: Any, name: str) -> int:
    audience = _integer(value, name)
    known = synthetic.CONTACT_LISTS if name == "contactlist" else synthetic.SEGMENTS
    if audience not in {a.id for a in known}:
        raise InvalidParameter(f"Invalid value for {name}: {audience}")
    return audience


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, 1)
    if value in (1, "1", True):
        return True
    if value in (0, "0", False):
        return False
    raise InvalidParameter(f"Invalid value for {name}: {value}")


def _contact_fields(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InvalidParameter("Invalid data format for contact_fields. Array expected")
    if not 1 <= len(value) <= MAX_FIELDS:
        raise InvalidParameter("Invalid number of fields")
    bad: list[str] = []
    ids: list[int] = []
    for raw in value:
        fid = int(raw) if isinstance(raw, int | str) and str(raw).strip().isdigit() else None
        field = synthetic.FIELDS_BY_ID.get(fid) if fid is not None else None
        if field is None or not field.exportable or isinstance(raw, bool):
            bad.append(str(raw))
        else:
            ids.append(field.id)
    if bad:
        raise InvalidParameter(f"Invalid contact field id: {', '.join(bad)}")
    return tuple(ids)


def _analysis_fields(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InvalidParameter("Invalid data format for analysis_fields. Array expected")
    ids: list[int] = []
    for raw in value:
        aid = int(raw) if isinstance(raw, int | str) and str(raw).strip().isdigit() else None
        if aid not in ANALYSIS_FIELDS or isinstance(raw, bool):
            raise InvalidParameter(f"Invalid value for analysis_fields: {raw}")
        assert aid is not None
        ids.append(aid)
    return tuple(ids)


def _sources(value: Any) -> tuple[str, ...]:
    # The old reference example sends "sources": "all" (docs/emarsys-api.md §4.2).
    if value == "all":
        return tuple(SOURCES)
    if not isinstance(value, list):
        raise InvalidParameter("Invalid data format for sources. Array expected")
    for s in value:
        if s not in SOURCES:
            raise InvalidParameter(f"Invalid value for sources: {s}")
    return tuple(value)


def _time_range(value: Any, account: SyntheticAccount, *, dates_only: bool) -> tuple[int, int]:
    if not isinstance(value, list):
        raise InvalidParameter("Invalid data format for time_range. Array expected")
    if len(value) != 2:
        raise InvalidParameter("Invalid data format for time_range. Array size must be 2")
    bounds = [_moment(v, account, dates_only=dates_only) for v in value]
    if bounds[0] is None or bounds[1] is None:
        raise InvalidParameter("Valid start_date and end_date is required")
    start, end = bounds[0], bounds[1]
    if end < start:
        raise InvalidParameter(
            "Invalid value for end_date: end_date is earlier than the start_date"
        )
    return start, end


def account_moment(value: Any, account: SyntheticAccount) -> int | None:
    """Unix seconds of a date or `YYYY-MM-DD HH:MM[:SS]` read in the account zone."""
    return _moment(value, account, dates_only=False)


def _moment(value: Any, account: SyntheticAccount, *, dates_only: bool) -> int | None:
    """Unix seconds of a `time_range` bound read in the account zone, None if malformed."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if _DATE.match(text):
            d = date.fromisoformat(text)
            moment = datetime(d.year, d.month, d.day, tzinfo=account.zone)
        elif _DATETIME.match(text) and not dates_only:
            moment = datetime.fromisoformat(text).replace(tzinfo=account.zone)
        else:
            return None
    except ValueError:
        return None
    return int(moment.timestamp())
