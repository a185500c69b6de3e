"""Record ids are checked before any CRM call: Salesforce's 18-character checksum, HubSpot's
numeric ids. One bad id is dropped; it never fails the batch it came with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.salesforce.ids import normalize_id
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import make_id
from sync.config import parse_config
from sync.context import Context, build_context
from tests.pipeline.conftest import config_text, sf_config_text

# 15-character ids and their case-safe 18-character forms (Salesforce's CASESAFEID())
KNOWN = [("001A000001GSbYv", "001A000001GSbYvIAL"), ("00Q5g000001LEAD", "00Q5g000001LEADEA4"),
         ("005000000000000", "005000000000000AAA"), ("a0Bxx0000012ABC", "a0Bxx0000012ABCEA2")]


@pytest.mark.parametrize(("id15", "id18"), KNOWN)
def test_15_character_ids_gain_their_checksum_and_18_character_ones_keep_it(
        id15: str, id18: str) -> None:
    assert normalize_id(id15) == id18
    assert normalize_id(id18) == id18
    assert normalize_id(f"  {id18}\n") == id18  # whitespace around an XML text node


def test_agrees_with_the_sandbox_implementation_on_many_ids() -> None:
    for prefix in ("00Q", "003", "005", "00G", "a0B"):
        for number in range(0, 62**4, 997):
            id18 = make_id(prefix, number)
            assert normalize_id(id18[:15]) == id18
            assert normalize_id(id18) == id18


@pytest.mark.parametrize("text", [
    "00Q5g000001LEADEA5",  # suffix does not match the case of the first 15
    "00Q5g000001LEADea4",  # a lower-case suffix is not one Salesforce produces
    "00q5g000001LEADEA4",  # the case of the 15 changed: the checksum no longer matches
    "00Q5g000001LEA",  # 14
    "00Q5g000001LEADE",  # 16
    "00Q5g000001LEADEA4X",  # 19
    "00Q5g000001LEA'",  # SOQL injection shaped
    "00Q5g000001LEA٣",  # a non-ASCII digit (str.isalnum() would accept it)
    "００Q5g000001LEAD",  # full-width digits
    "", "x" * 5000,
])
def test_malformed_ids_are_refused(text: str) -> None:
    assert normalize_id(text) is None


def test_non_strings_are_refused() -> None:
    assert normalize_id(None) is None
    assert normalize_id(1234567890123456) is None


@pytest.fixture
def sf_ctx(tmp_path: Path) -> Iterator[tuple[SalesforceSandbox, Context]]:
    with SalesforceSandbox() as box:
        box.seed_demo()
        config = parse_config(sf_config_text(box, tmp_path / "state.db"))
        ctx = build_context(config, environ={"SALESFORCE_ACCESS_TOKEN": box.token})
        yield box, ctx
        ctx.close()


def test_salesforce_fetch_drops_bad_ids_before_calling(
        sf_ctx: tuple[SalesforceSandbox, Context]) -> None:
    box, ctx = sf_ctx
    lead = box.create_lead(LastName="Sample", Insurance_Type__c="commercial")
    bad_checksum = lead[:15] + ("AAA" if lead[15:] != "AAA" else "BBB")
    box.clear_log()
    assert ctx.connector.fetch([bad_checksum, "nope'); DELETE", "x" * 300]) == []
    assert box.request_log == []  # not one API call for ids that cannot exist
    fetched = ctx.connector.fetch([lead, bad_checksum, "not-an-id'", lead[:15]])
    assert [f.crm_id for f in fetched] == [lead]
    assert len(box.request_log) == 1


@pytest.fixture
def hs_ctx(tmp_path: Path) -> Iterator[tuple[HubSpotSandbox, Context]]:
    with HubSpotSandbox() as box:
        box.seed_demo()
        config = parse_config(config_text(box, tmp_path / "state.db"))
        ctx = build_context(config, environ={"HUBSPOT_TOKEN": box.token})
        yield box, ctx
        ctx.close()


def test_hubspot_fetch_drops_non_numeric_ids_before_calling(
        hs_ctx: tuple[HubSpotSandbox, Context]) -> None:
    box, ctx = hs_ctx
    cid = box.create_contact({"firstname": "Test", "lastname": "Person"})
    box.clear_log()
    assert ctx.connector.fetch(["abc", "²", "12x", "-5", "9" * 40]) == []
    assert box.request_log == []
    fetched = ctx.connector.fetch([cid, "abc", "²"])
    assert [f.crm_id for f in fetched] == [cid]
    assert len(box.request_log) == 1
