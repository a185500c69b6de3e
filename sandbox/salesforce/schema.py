"""sObject schemas of the emulated org, Salesforce ids and timestamp formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "KEY_PREFIXES",
    "ApiError",
    "Field",
    "SObjectSchema",
    "build_schemas",
    "format_datetime",
    "make_id",
]

# Key prefixes of the objects the sandbox knows (as in every org).
KEY_PREFIXES: dict[str, str] = {
    "Lead": "00Q",
    "Contact": "003",
    "Task": "00T",
    "User": "005",
    "Group": "00G",
    "Organization": "00D",
    "LeadStatus": "01J",
    "Account": "001",
}
PREFIX_TO_SOBJECT = {v: k for k, v in KEY_PREFIXES.items()}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
POD = "8c"  # the two "instance" characters after the key prefix


def id_suffix(id15: str) -> str:
    """The 3-character case-safety checksum that turns a 15-char id into an 18-char one."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def make_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id: prefix + pod + reserved '0' + 9 base62 digits + checksum."""
    digits = []
    n = number
    for _ in range(9):
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    id15 = prefix + POD + "0" + "".join(reversed(digits))
    return id15 + id_suffix(id15)


def to18(any_id: str) -> str:
    """Normalize a 15- or 18-character id to 18 characters."""
    return any_id + id_suffix(any_id) if len(any_id) == 15 else any_id


def format_datetime(dt: datetime) -> str:
    """Salesforce's wire format: ``2026-11-28T04:58:00.000+0000`` (UTC)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class ApiError(Exception):
    """An error the REST API reports as ``[{"message", "errorCode", "fields"}]``."""

    def __init__(self, status: int, code: str, message: str,
                 fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            item["fields"] = self.fields
        return [item]

    def save_error(self) -> dict[str, Any]:
        """The ``errors[]`` entry of a SaveResult."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


# Field types: id reference string textarea email phone picklist boolean date datetime
# double int.
@dataclass
class Field:
    name: str
    type: str = "string"
    required: bool = False  # must be given on create (no default)
    createable: bool = True
    updateable: bool = True
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None  # e.g. OwnerId -> "Owner"
    filterable: bool = True  # long text areas cannot be filtered or sorted in SOQL


@dataclass
class SObjectSchema:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    writable: bool = True  # create/update through the REST API

    def add(self, *fields: Field) -> None:
        for f in fields:
            self.fields[f.name] = f

    def lookup(self, name: str) -> Field | None:
        """Case-insensitive field lookup (SOQL and JSON bodies are case-insensitive)."""
        f = self.fields.get(name)
        if f is not None:
            return f
        low = name.lower()
        for candidate in self.fields.values():
            if candidate.name.lower() == low:
                return candidate
        return None

    def relationship(self, name: str) -> Field | None:
        low = name.lower()
        for f in self.fields.values():
            if f.relationship and f.relationship.lower() == low:
                return f
        return None


def _ro(name: str, type_: str = "string", **kw: Any) -> Field:
    return Field(name, type_, createable=False, updateable=False, **kw)


def _audit() -> list[Field]:
    return [
        _ro("Id", "id"),
        _ro("IsDeleted", "boolean"),
        _ro("CreatedDate", "datetime"),
        _ro("CreatedById", "reference", reference_to=("User",), relationship="CreatedBy"),
        _ro("LastModifiedDate", "datetime"),
        _ro("LastModifiedById", "reference", reference_to=("User",),
            relationship="LastModifiedBy"),
        _ro("SystemModstamp", "datetime"),
    ]


def _person_fields() -> list[Field]:
    return [
        Field("FirstName"), Field("LastName", required=True), _ro("Name"),
        Field("Salutation", "picklist"), Field("Title"), Field("Email", "email"),
        Field("Phone", "phone"), Field("MobilePhone", "phone"), Field("LeadSource", "picklist"),
        Field("Description", "textarea", filterable=False),
        Field("HasOptedOutOfEmail", "boolean", default=False),
        Field("DoNotCall", "boolean", default=False),
        Field("Insurance_Type__c", "picklist"), Field("Level_of_Care__c", "picklist"),
        Field("Preferred_Language__c", "picklist"),
        _ro("LastActivityDate", "date"),
    ]


def build_schemas() -> dict[str, SObjectSchema]:
    """Fresh schemas for the emulated org (custom fields can be added per sandbox)."""
    lead = SObjectSchema("Lead")
    lead.add(*_audit(), *_person_fields())
    lead.add(
        Field("Company", required=True), Field("Street", "textarea"), Field("City"),
        Field("State"), Field("PostalCode"), Field("Country"),
        Field("Status", "picklist"), Field("Rating", "picklist"), Field("Industry", "picklist"),
        Field("OwnerId", "reference", reference_to=("User", "Group"), relationship="Owner"),
        _ro("IsConverted", "boolean"), _ro("ConvertedDate", "date"),
        Field("IsUnreadByOwner", "boolean", default=False),
    )
    contact = SObjectSchema("Contact")
    contact.add(*_audit(), *_person_fields())
    contact.add(
        Field("AccountId", "reference", reference_to=("Account",), relationship="Account"),
        Field("MailingStreet", "textarea"), Field("MailingCity"), Field("MailingState"),
        Field("MailingPostalCode"), Field("MailingCountry"), Field("Birthdate", "date"),
        Field("OwnerId", "reference", reference_to=("User",), relationship="Owner"),
    )
    task = SObjectSchema("Task")
    task.add(
        *_audit(),
        Field("WhoId", "reference", reference_to=("Lead", "Contact"), relationship="Who"),
        Field("WhatId", "reference", reference_to=("Account",), relationship="What"),
        Field("OwnerId", "reference", reference_to=("User",), relationship="Owner"),
        Field("Subject"), Field("Description", "textarea", filterable=False),
        Field("ActivityDate", "date"),
        Field("Status", "picklist", default="Not Started"),
        Field("Priority", "picklist", default="Normal"),
        Field("TaskSubtype", "picklist", default="Task", updateable=False),
        Field("Type", "picklist"), Field("CallType", "picklist"),
        Field("CallDurationInSeconds", "int"), Field("CallDisposition"),
        Field("ReminderDateTime", "datetime"), Field("IsReminderSet", "boolean", default=False),
        _ro("IsClosed", "boolean"), _ro("IsHighPriority", "boolean"),
        _ro("CompletedDateTime", "datetime"),
    )
    user = SObjectSchema("User")
    user.add(
        *_audit(),
        Field("Username", required=True), Field("FirstName"), Field("LastName", required=True),
        _ro("Name"), Field("Email", "email", required=True), Field("Alias"),
        Field("IsActive", "boolean", default=True), Field("Title"), Field("Department"),
        Field("Phone", "phone"),
        Field("TimeZoneSidKey", "picklist", default="America/Los_Angeles"),
        Field("LocaleSidKey", "picklist", default="en_US"),
        Field("LanguageLocaleKey", "picklist", default="en_US"),
        Field("EmailEncodingKey", "picklist", default="UTF-8"),
        Field("ProfileId", "reference"), Field("UserType", "picklist", default="Standard",
                                               createable=False, updateable=False),
        Field("ManagerId", "reference", reference_to=("User",), relationship="Manager"),
    )
    group = SObjectSchema("Group", writable=False)
    group.add(
        *_audit(), Field("Name"), Field("DeveloperName"), Field("Type", "picklist"),
        Field("Email", "email"), Field("DoesSendEmailToMembers", "boolean", default=False),
        Field("OwnerId", "reference", reference_to=("User",), relationship="Owner"),
    )
    status = SObjectSchema("LeadStatus", writable=False)
    status.add(
        *_audit(), Field("MasterLabel"), Field("ApiName"), Field("SortOrder", "int"),
        Field("IsDefault", "boolean"), Field("IsConverted", "boolean"),
    )
    org = SObjectSchema("Organization", writable=False)
    org.add(
        *_audit(), Field("Name"), Field("OrganizationType"), Field("IsSandbox", "boolean"),
        Field("InstanceName"), Field("TimeZoneSidKey"), Field("DefaultLocaleSidKey"),
        Field("LanguageLocaleKey"),
    )
    account = SObjectSchema("Account")
    account.add(
        *_audit(), Field("Name", required=True), Field("Type", "picklist"),
        Field("OwnerId", "reference", reference_to=("User",), relationship="Owner"),
    )
    return {s.name: s for s in (lead, contact, task, user, group, status, org, account)}
