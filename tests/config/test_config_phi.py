"""`check` refuses config that would read, store or overwrite a lead's identity fields.

Leads are prospective patients: a name, email, phone, address, date of birth or free text
is PHI and never a routing input. `[fields] email = "email"` used to pass `check` and then
break every cycle; now it is one problem naming the key and its line, exit 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.hubspot.plugin import PLUGIN as HUBSPOT
from connectors.salesforce.plugin import PLUGIN as SALESFORCE
from sync.config.phi import identity_names, is_identity_field, normalise
from tests.config.examples import broken, check, salesforce

LANGUAGE = 'language = "preferred_language"'
# the generic names plus every connector plugin's own
EVERY_CRM = identity_names(HUBSPOT.phi_field_names | SALESFORCE.phi_field_names)

# (case, config text, key); the refusal names the key and points at its line
CASES = [
    # the lead attribute (left side) is an identity field
    ("attribute-email", broken(LANGUAGE, f'{LANGUAGE}\nemail = "email"'), "fields.email"),
    ("attribute-name", broken(LANGUAGE, f'{LANGUAGE}\nname = "lead_name"'), "fields.name"),
    ("attribute-phone", broken(LANGUAGE, f'{LANGUAGE}\nphone = "phone_number"'),
     "fields.phone"),
    ("attribute-date-of-birth", broken(LANGUAGE, f'{LANGUAGE}\ndate_of_birth = "dob_c"'),
     "fields.date_of_birth"),
    ("attribute-notes", broken(LANGUAGE, f'{LANGUAGE}\nnotes = "hs_notes"'), "fields.notes"),
    # a harmless attribute name mapped onto a CRM identity property (right side)
    ("hubspot-email", broken(LANGUAGE, f'{LANGUAGE}\ncontact = "email"'), "fields.contact"),
    ("hubspot-firstname", broken(LANGUAGE, f'{LANGUAGE}\nwho = "firstname"'), "fields.who"),
    ("hubspot-lastname", broken(LANGUAGE, f'{LANGUAGE}\nwho = "lastname"'), "fields.who"),
    ("hubspot-mobilephone", broken(LANGUAGE, f'{LANGUAGE}\nreach = "mobilephone"'),
     "fields.reach"),
    ("hubspot-address", broken(LANGUAGE, f'{LANGUAGE}\nwhere = "address"'), "fields.where"),
    ("hubspot-date-of-birth", broken(LANGUAGE, f'{LANGUAGE}\nage = "date_of_birth"'),
     "fields.age"),
    ("hubspot-message", broken(LANGUAGE, f'{LANGUAGE}\nform = "message"'), "fields.form"),
    ("hubspot-additional-emails", broken(LANGUAGE, f'{LANGUAGE}\nalt = "hs_additional_emails"'),
     "fields.alt"),
    ("salesforce-name", broken(LANGUAGE, f'{LANGUAGE}\nwho = "Name"', base=salesforce()),
     "fields.who"),
    ("salesforce-firstname", broken(LANGUAGE, f'{LANGUAGE}\nwho = "FirstName"',
                                    base=salesforce()), "fields.who"),
    ("salesforce-email", broken(LANGUAGE, f'{LANGUAGE}\nreach = "Email"', base=salesforce()),
     "fields.reach"),
    ("salesforce-mobilephone", broken(LANGUAGE, f'{LANGUAGE}\nreach = "MobilePhone"',
                                      base=salesforce()), "fields.reach"),
    ("salesforce-street", broken(LANGUAGE, f'{LANGUAGE}\nwhere = "Street"', base=salesforce()),
     "fields.where"),
    ("salesforce-description", broken(LANGUAGE, f'{LANGUAGE}\nintake = "Description"',
                                      base=salesforce()), "fields.intake"),
    ("salesforce-birthdate", broken(LANGUAGE, f'{LANGUAGE}\nage = "Birthdate"',
                                    base=salesforce()), "fields.age"),
    ("salesforce-custom-dob", broken(LANGUAGE, f'{LANGUAGE}\nage = "Date_of_Birth__c"',
                                     base=salesforce()), "fields.age"),
    # filters read the property from the CRM too (and put its values in the config)
    ("hubspot-filter-on-email", broken('lifecyclestage = ["lead", "subscriber", '
                                       '"marketingqualifiedlead"]',
                                       'email = ["someone@example.org"]'),
     "crm.hubspot.filters.email"),
    ("salesforce-filter-on-phone", salesforce('filters = { Phone = ["555-0100"] }\n'),
     "crm.salesforce.filters.Phone"),
    # routing metadata written over an identity property would destroy it in the CRM
    ("hubspot-metadata-over-email", broken('# rule = "leadrouter_rule"', 'rule = "email"'),
     "crm.hubspot.metadata_properties.rule"),
    ("salesforce-metadata-over-description",
     salesforce('metadata_fields = { rule = "Description" }\n'),
     "crm.salesforce.metadata_fields.rule"),
]


@pytest.mark.parametrize(("text", "key"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_identity_field_is_refused_by_key_and_line(
        text: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(text, tmp_path, capsys)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line, number = result.problem(key)
    assert "personal data" in line, line
    name = key.rsplit(".", 1)[-1]
    assert re.search(rf"(^|[\s{{,]){re.escape(name)}\s*=", result.source_line(number)), (
        line, result.source_line(number))


@pytest.mark.parametrize("mapping", ['city = "city"', 'county = "county"',
                                     'referral = "hs_analytics_source_data_1"',
                                     'payer = "Insurance_Type__c"', 'age_group = "age_group"'])
def test_routing_attributes_still_pass(mapping: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """City (like state and ZIP) identifies nobody on its own; the list is clear
    identifiers only, so ordinary routing properties are untouched."""
    result = check(broken(LANGUAGE, f"{LANGUAGE}\n{mapping}"), tmp_path, capsys)
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(("name", "identity"), [
    ("email", True), ("EMAIL", True), ("E-Mail", True), ("e_mail", True),
    ("Date_of_Birth__c", True), ("DateOfBirth", True), ("hs_whatsapp_phone_number", True),
    ("MailingStreet", True), ("insurance_type", False), ("state", False), ("zip", False),
    ("city", False), ("lifecyclestage", False), ("email_opt_in", False),
])
def test_identity_names_are_compared_normalised(name: str, identity: bool) -> None:
    assert is_identity_field(name, EVERY_CRM) is identity, normalise(name)


def test_check_refuses_every_attribute_name_the_store_refuses() -> None:
    """The crash this prevents: a name `check` let through and the store then refused for
    every lead. The store's own list (defence in depth) must stay within this one."""
    from state.repos import lead_values

    store_names = getattr(lead_values, "_PHI_ATTRIBUTE_NAMES", None)
    if store_names is None:
        pytest.skip("the store no longer keeps its own list (it shares sync/config/phi's)")
    assert {name for name in store_names if not is_identity_field(name)} == set()
