"""Synthetic data for the emulated org: coordinators, queues and a treatment-center lead mix.

Everything here is invented: names come from small generic lists, emails use ``example.*``
domains and phones use the fictional 555-01xx range. It lives only in the sandbox's memory.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.salesforce.store import Store

__all__ = [
    "DEMO_USERS",
    "INSURANCE_TYPES",
    "LEAD_SOURCES",
    "LEVELS_OF_CARE",
    "ZIPS",
    "DemoIds",
    "seed_demo",
    "seed_people",
]

DOMAIN = "sunrise-recovery.example"


@dataclass(frozen=True)
class DemoUser:
    handle: str
    first: str
    last: str
    time_zone: str
    title: str
    active: bool = True


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("maria", "Maria", "Lopez", "America/Los_Angeles", "Admissions Coordinator"),
    DemoUser("li", "Li", "Chen", "America/Los_Angeles", "Admissions Coordinator"),
    DemoUser("james", "James", "Carter", "America/Phoenix", "Admissions Coordinator"),
    DemoUser("sofia", "Sofia", "Ramirez", "America/Phoenix", "Admissions Coordinator"),
    DemoUser("devon", "Devon", "Brooks", "America/Los_Angeles", "Admissions Coordinator"),
    DemoUser("aisha", "Aisha", "Rahman", "America/Chicago", "Admissions Coordinator"),
    DemoUser("carlos", "Carlos", "Mendez", "America/Chicago", "Bilingual Admissions Coordinator"),
    DemoUser("priya", "Priya", "Patel", "America/Denver", "Verification of Benefits Specialist"),
    DemoUser("dana", "Dana", "Whitfield", "America/Los_Angeles", "Admissions Supervisor"),
    DemoUser("jordan", "Jordan", "Blake", "America/Los_Angeles", "Admissions Coordinator",
             active=False),
    # A placeholder owner for Contacts (a queue cannot own a Contact in Salesforce).
    DemoUser("intake", "Admissions", "Intake", "America/Los_Angeles", "Placeholder owner"),
)
ADMISSIONS_INBOX = "Admissions Inbox"
RULE_QUEUE = "Lead Triage (Assignment Rule)"

# (ZIP, city, state, area code): real ZIP codes in the states the demo facilities serve.
ZIPS: tuple[tuple[str, str, str, str], ...] = (
    ("90012", "Los Angeles", "CA", "213"), ("92101", "San Diego", "CA", "619"),
    ("94103", "San Francisco", "CA", "415"), ("95814", "Sacramento", "CA", "916"),
    ("92660", "Newport Beach", "CA", "949"), ("92262", "Palm Springs", "CA", "760"),
    ("93721", "Fresno", "CA", "559"), ("90401", "Santa Monica", "CA", "310"),
    ("95113", "San Jose", "CA", "408"), ("92501", "Riverside", "CA", "951"),
    ("85004", "Phoenix", "AZ", "602"), ("85701", "Tucson", "AZ", "520"),
    ("85251", "Scottsdale", "AZ", "480"), ("86001", "Flagstaff", "AZ", "928"),
    ("85281", "Tempe", "AZ", "480"), ("85201", "Mesa", "AZ", "480"),
    ("89101", "Las Vegas", "NV", "702"), ("89501", "Reno", "NV", "775"),
    ("89014", "Henderson", "NV", "702"), ("89301", "Ely", "NV", "775"),
    ("78701", "Austin", "TX", "512"), ("77002", "Houston", "TX", "713"),
    ("75201", "Dallas", "TX", "214"), ("78205", "San Antonio", "TX", "210"),
    ("79901", "El Paso", "TX", "915"), ("76102", "Fort Worth", "TX", "817"),
    ("79401", "Lubbock", "TX", "806"), ("78401", "Corpus Christi", "TX", "361"),
)
STATE_WEIGHTS = {"CA": 40, "AZ": 20, "NV": 15, "TX": 25}
INSURANCE_TYPES = {"commercial": 30, "ppo": 18, "hmo": 10, "medicaid": 18, "medicare": 7,
                   "self_pay": 11, "tricare": 6}
LEVELS_OF_CARE = {"detox": 25, "residential": 30, "php": 15, "iop": 20, "outpatient": 10}
LEAD_SOURCES = {"Web": 30, "Phone Inquiry": 24, "Paid Search": 20, "Referral": 11,
                "Display": 5, "Social": 4, "Partner Referral": 4, "Other": 2}
LANGUAGES = {"English": 80, "Spanish": 16, "Vietnamese": 2, "Tagalog": 2}
FIRST_NAMES = (
    "Alex", "Jamie", "Taylor", "Morgan", "Casey", "Riley", "Avery", "Quinn", "Rowan", "Emery",
    "Harper", "Logan", "Parker", "Reese", "Sawyer", "Skyler", "Dakota", "Elliot", "Finley",
    "Hayden", "Jesse", "Kendall", "Micah", "Noel", "Peyton", "Remy", "Sage", "Tatum", "Blair",
    "Cameron", "Drew", "Frankie", "Jordan", "Kai", "Lane", "Marlow", "Oakley", "Perry", "Shay",
)
LAST_NAMES = (
    "Sample", "Testerson", "Placeholder", "Fictional", "Madeup", "Synthia", "Demo", "Mockley",
    "Fakeworth", "Imaginary", "Notreal", "Example", "Pretend", "Invented", "Dummy", "Standin",
    "Figment", "Proxy", "Surrogate", "Facsimile", "Replica", "Simulacrum", "Modelson",
    "Trialman", "Pilotson", "Draftley", "Sketchford", "Outline", "Template", "Prototype",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass
class DemoIds:
    """Ids created by :func:`seed_demo` (users by handle, plus the two queues)."""

    users: dict[str, str]
    admissions_inbox: str
    rule_queue: str


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _find(store: Store, sobject: str, field: str, value: str) -> str | None:
    for rec in store.records[sobject].values():
        if rec.get(field) == value:
            return str(rec["Id"])
    return None


def ensure_queue(store: Store, name: str, developer_name: str) -> str:
    existing = _find(store, "Group", "DeveloperName", developer_name)
    if existing:
        return existing
    return store.insert("Group", {"Name": name, "DeveloperName": developer_name,
                                  "Type": "Queue"}, admin=True)


def seed_demo(store: Store) -> DemoIds:
    """Create (idempotently) the demo coordinators, supervisor and queues."""
    users: dict[str, str] = {}
    with store.lock:
        for u in DEMO_USERS:
            email = f"{u.handle}@{DOMAIN}"
            uid = _find(store, "User", "Username", email)
            if uid is None:
                uid = store.insert("User", {
                    "Username": email, "Email": email, "FirstName": u.first, "LastName": u.last,
                    "Alias": u.handle[:8], "IsActive": u.active, "TimeZoneSidKey": u.time_zone,
                    "Title": u.title, "Department": "Admissions"}, admin=True)
            users[u.handle] = uid
        supervisor = users["dana"]
        for handle, uid in users.items():
            if handle not in ("dana", "intake"):
                store.records["User"][uid]["ManagerId"] = supervisor
        inbox = ensure_queue(store, ADMISSIONS_INBOX, "Admissions_Inbox")
        rule = ensure_queue(store, RULE_QUEUE, "Lead_Triage")
    return DemoIds(users, inbox, rule)


def seed_people(store: Store, sobject: str, n: int, *, owners: Sequence[str],
                unowned_owner: str, owned_fraction: float,
                created_between: tuple[datetime, datetime], rng_seed: int) -> list[str]:
    """Create ``n`` synthetic Leads or Contacts, in CreatedDate order; returns their ids."""
    rng = random.Random(rng_seed)
    start, end = created_between
    span = max((end - start).total_seconds(), 0.0)
    stamps = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
    state_zips: dict[str, list[tuple[str, str, str, str]]] = {}
    for z in ZIPS:
        state_zips.setdefault(z[2], []).append(z)
    contact = sobject == "Contact"
    ids: list[str] = []
    with store.lock:
        for i, created in enumerate(stamps):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            zip_code, city, state, area = rng.choice(state_zips[_pick(rng, STATE_WEIGHTS)])
            owned = owners and rng.random() < owned_fraction
            values: dict[str, Any] = {
                "FirstName": first, "LastName": last,
                "Email": f"{first}.{last}{rng_seed % 1000}{i}@{rng.choice(EMAIL_DOMAINS)}".lower(),
                "Phone": f"({area}) 555-01{rng.randrange(100):02d}",
                "LeadSource": _pick(rng, LEAD_SOURCES),
                "Insurance_Type__c": _pick(rng, INSURANCE_TYPES),
                "Level_of_Care__c": _pick(rng, LEVELS_OF_CARE),
                "Preferred_Language__c": _pick(rng, LANGUAGES),
                "OwnerId": rng.choice(list(owners)) if owned else unowned_owner,
                "CreatedDate": created, "LastModifiedDate": created, "SystemModstamp": created,
            }
            if contact:
                values.update(MailingCity=city, MailingState=state, MailingPostalCode=zip_code,
                              MailingCountry="United States")
            else:
                values.update(Company="[not provided]", City=city, State=state,
                              PostalCode=zip_code, Country="United States")
            ids.append(store.insert(sobject, values, admin=True))
    return ids
