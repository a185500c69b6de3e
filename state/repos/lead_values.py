"""What a lead row holds as values: routing attributes as the store accepts them, and the
`LeadRecord`s handed out for rows (read, or just inserted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from state.records import LeadRecord
from state.tables import LeadRow

MAX_ATTRIBUTE_LENGTH = 128
# Defence in depth: attribute names that are personal data, not routing inputs.
_PHI_ATTRIBUTE_NAMES = frozenset(
    {
        "name", "firstname", "lastname", "fullname", "email", "emailaddress", "phone",
        "phonenumber", "mobilephone", "mobile", "address", "streetaddress", "street", "dob",
        "dateofbirth", "birthdate", "ssn", "notes", "note", "message", "comments",
        "description", "diagnosis",
    }
)  # fmt: skip
SOURCE_ATTRIBUTE = "source"  # the attribute the report groups leads by (CONTRACTS Part 2)


def source_of(attributes: Mapping[str, str]) -> str | None:
    value = attributes.get(SOURCE_ATTRIBUTE)
    return value[:64] if value else None


def clean_attributes(attributes: Mapping[str, object]) -> dict[str, str]:
    """Routing attributes as short strings; refuse names that are PHI and long free text.

    Error messages name the attribute, never its value.
    """
    out: dict[str, str] = {}
    for key, value in attributes.items():
        name = str(key)
        if name.lower().replace("_", "").replace("-", "") in _PHI_ATTRIBUTE_NAMES:
            raise ValueError(
                f"attribute {name!r} is personal data; the store keeps routing attributes only"
            )
        if value is None:
            continue
        text = str(value)
        if len(text) > MAX_ATTRIBUTE_LENGTH:
            raise ValueError(f"attribute {name!r} is too long for a routing attribute")
        out[name] = text
    return out


_RECORD_FIELDS = tuple(LeadRecord.__dataclass_fields__)  # the record's fields, row columns all
_FIELD_INDEX = {name: i for i, name in enumerate(_RECORD_FIELDS)}
_RECORD_VALUES = attrgetter(*_RECORD_FIELDS)
_ATTRIBUTES = _FIELD_INDEX["attributes"]
_EXCLUDED = _FIELD_INDEX["excluded"]
_TABLE: Any = LeadRow.__table__  # type: ignore[attr-defined]
# the columns a record is read from, in the record's field order
RECORD_COLUMNS = tuple(_TABLE.c[name] for name in _RECORD_FIELDS)


def record_of(values: Sequence[Any]) -> LeadRecord:
    """The record of a row read as `RECORD_COLUMNS` (one C call per row, no ORM object)."""
    record = list(values)
    # JSON columns come back as fresh objects; a missing value reads as empty
    if record[_ATTRIBUTES] is None:
        record[_ATTRIBUTES] = {}
    if record[_EXCLUDED] is None:
        record[_EXCLUDED] = []
    return LeadRecord(*record)


def with_changes(record: LeadRecord, changes: Mapping[str, Any]) -> LeadRecord:
    """`record` with `changes` (field -> stored value) applied; several times faster than
    `dataclasses.replace`, and this runs for every change of every lead."""
    values = list(_RECORD_VALUES(record))
    for name, value in changes.items():
        values[_FIELD_INDEX[name]] = value
    # copies: changing a record's attributes or exclusions changes nothing to be stored
    values[_ATTRIBUTES] = dict(values[_ATTRIBUTES])
    values[_EXCLUDED] = list(values[_EXCLUDED])
    return LeadRecord(*values)


# what a new lead's record holds beside the values inserted (the columns' defaults)
_NEW_LEAD: dict[str, Any] = {name: None for name in _RECORD_FIELDS}


def new_record(inserted: Mapping[str, Any], row_id: int) -> LeadRecord:
    """The record of a row just inserted with `inserted` (the columns it set), not read back."""
    fields = {**_NEW_LEAD, **inserted, "id": row_id}
    fields["attributes"] = dict(fields["attributes"])
    return LeadRecord(**fields)
