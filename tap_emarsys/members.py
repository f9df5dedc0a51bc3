"""Contact ids for member exports that come without a `user_id` column.

Every current published example of `email/getcontacts` and `export/filter` output starts with
the field labels, not with `user_id` (docs/emarsys-api.md §12.1). The member streams are keyed by
`[list or segment, contact_id]`, so such rows get their id back through `contact/getdata`, looked
up by the `member_key_field` setting (e-mail by default), 1000 values per request. A row whose
value names no single contact cannot carry a key: it is counted by reason and left out, never
emitted with a null `contact_id`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from emarsys_api.client import CONTACT_DATA_BATCH
from tap_emarsys.records import CsvRowError

if TYPE_CHECKING:
    from emarsys_api import EmarsysClient
    from tap_emarsys.contact_fields import ContactField

#: Why a member row got no contact id (the words of the stream's warning line).
EMPTY_KEY = "empty key value"
NOT_FOUND = "no contact with this value"
SEVERAL = "several contacts with this value"

_REASONS_BY_CODE = {"2008": NOT_FOUND, "2010": SEVERAL}


class MemberIdResolver:
    """Prepends the resolved contact id to each row of one member export.

    Attributes:
        unresolved: rows left out, per reason (`EMPTY_KEY`, `NOT_FOUND`, `SEVERAL`, or the
            error code Emarsys gave).
    """

    def __init__(
        self,
        client: EmarsysClient,
        key_field: ContactField,
        key_position: int,
        width: int,
        batch_size: int = CONTACT_DATA_BATCH,
    ) -> None:
        """Remember where the key value is and how wide a row must be.

        Args:
            client: the run's client.
            key_field: the `member_key_field` setting's field.
            key_position: its column in the export's rows.
            width: the header's column count (a row of another width is a `CsvRowError`).
            batch_size: values per `contact/getdata` request.
        """
        self.client = client
        self.key_field = key_field
        self.key_position = key_position
        self.width = width
        self.batch_size = batch_size
        self.unresolved: Counter[str] = Counter()

    @property
    def unresolved_count(self) -> int:
        """Rows left out, all reasons together."""
        return sum(self.unresolved.values())

    def rows(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """The rows that name one contact, each with that contact's id as a new first cell.

        Args:
            rows: the export's data rows (header consumed), in file order.

        Yields:
            `[contact id, *row]`, in file order.

        Raises:
            CsvRowError: a row has another number of fields than the header.
        """
        batch: list[list[str]] = []
        for number, row in enumerate(rows, start=1):
            if len(row) != self.width:
                msg = f"the CSV row has {len(row)} fields, the header has {self.width}"
                raise CsvRowError(number, msg)
            batch.append(row)
            if len(batch) >= self.batch_size:
                yield from self._resolved(batch)
                batch = []
        if batch:
            yield from self._resolved(batch)

    def _resolved(self, batch: list[list[str]]) -> Iterator[list[str]]:
        position = self.key_position
        values = [row[position].strip() for row in batch]
        asked = [value for value in dict.fromkeys(values) if value]
        found = self.client.contact_ids(self.key_field.id, asked) if asked else None
        for row, value in zip(batch, values, strict=True):
            if not value:
                self.unresolved[EMPTY_KEY] += 1
                continue
            assert found is not None
            contact_id = found.ids.get(value)
            if contact_id is None:
                code = found.errors.get(value, ("2008", ""))[0]
                self.unresolved[_REASONS_BY_CODE.get(code, f"error {code}")] += 1
                continue
            yield [str(contact_id), *row]
