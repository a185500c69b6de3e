"""Names of fields that identify a person or hold free text: never routing inputs.

Leads are prospective patients, so these fields are PHI. leadrouter reads and stores routing
attributes only (insurance category, state, ZIP, source, level of care, language); mapping
one of these into `[fields]` (or filtering on it, or writing routing metadata over it) is
refused by `leadrouter check`.

One list serves both sides of a mapping: lead attribute names (`[fields] email = ...`) and
CRM property names (`... = "email"`, `"Email"`). This list holds the names every CRM uses;
each connector plugin adds its own (`ConnectorPlugin.phi_field_names`), merged by
`identity_names`. Names are compared normalised: lower case, a custom-field suffix `__c`
dropped, and `_`, `-`, `.` and spaces removed, so `date_of_birth`, `DateOfBirth`,
`Date_of_Birth__c` are one name.

City is not in the list: on its own it identifies nobody (like state and ZIP, which routing
needs); the list holds clear identifiers only.

This module imports nothing of the project, so the store's own last-line check
(`state/repos/lead_values.py`, `_PHI_ATTRIBUTE_NAMES`) can use the same list once it moves to a
layer the store may import (`routing/`; `state` must not import `sync`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

IDENTITY_NAMES: frozenset[str] = frozenset({
    # names
    "name", "firstname", "lastname", "fullname", "middlename", "givenname", "surname",
    "familyname", "nickname", "maidenname", "preferredname",
    # email
    "email", "emailaddress", "workemail", "personalemail",
    # phones
    "phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "cellphone", "cell",
    "homephone", "workphone", "fax", "faxnumber",
    # street addresses
    "address", "address1", "address2", "addressline1", "addressline2", "streetaddress",
    "street", "homeaddress",
    # dates of birth
    "dob", "dateofbirth", "birthdate", "birthday",
    # government and medical identifiers
    "ssn", "socialsecuritynumber", "mrn", "medicalrecordnumber", "memberid",
    "insuranceid", "policynumber", "subscriberid", "driverslicense",
    # free text (form messages, descriptions) and clinical detail
    "notes", "note", "message", "comments", "comment", "description", "details",
    "diagnosis", "symptoms", "medications",
    # online identifiers
    "ipaddress",
})

_SEPARATORS = re.compile(r"[\s_.\-]+")


def normalise(name: str) -> str:
    """`Date_of_Birth__c` -> `dateofbirth`; `work_email` -> `workemail`."""
    lowered = name.strip().lower()
    lowered = lowered.removesuffix("__c")
    return _SEPARATORS.sub("", lowered)


def identity_names(crm_names: Iterable[str] = ()) -> frozenset[str]:
    """The generic names plus a CRM's own (`ConnectorPlugin.phi_field_names`), normalised."""
    return IDENTITY_NAMES | {normalise(name) for name in crm_names}


def is_identity_field(name: str, names: frozenset[str] = IDENTITY_NAMES) -> bool:
    """True when `name` (a lead attribute or a CRM property) is a personal identifier or
    free text, never a routing input; `names` from `identity_names` adds a CRM's own."""
    return normalise(name) in names


REFUSAL = ("is personal data (a name, contact detail, address, date of birth, identifier or "
           "free text), not a routing attribute: leadrouter never reads or stores it")
