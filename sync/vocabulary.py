"""What the store may keep of a lead's attributes: only values routing could compare.

A CRM field mapped in `[fields]` can hold anything a person typed ("Jane Roe, call after 5,
555-0100"). The store, the audit trail and `explain` must never carry that. So a value is
kept only when some rule condition, facility or pool could compare it; every other value
becomes `OTHER`. Routing outcomes are unchanged: a value no condition lists fails every `IN`,
passes every `NOT_IN` and `PRESENT`, and `OTHER` behaves exactly the same.

- `IN` / `NOT_IN` values and facilities' levels of care: kept as they are (normalised).
- `PREFIX` values (ZIP ranges): the longest listed prefix the value starts with.
- the ZIP attribute (nearest facility): the 5-digit ZIP when the value is a US ZIP.
- the `source` attribute (a report dimension): a short token such as `paid_search`, with no
  spaces, `@` or runs of digits, so a name, an address or a phone number cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from routing.matching import normalise
from routing.models import Op, Rulebook

OTHER = "(other)"
MAX_VALUE_LENGTH = 128  # the longest value a config may list and the store keeps
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_TOKEN = re.compile(r"^[a-z][a-z0-9_.\-/]{0,39}$")
_DIGIT_RUN = re.compile(r"\d{3,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Vocabulary:
    exact: Mapping[str, frozenset[str]]
    prefixes: Mapping[str, tuple[str, ...]]  # longest first
    zip_attribute: str
    token_attributes: frozenset[str]

    def keep(self, attribute: str, raw: object) -> str | None:
        """The value the store keeps for `raw`: a comparable value, `OTHER`, or None (blank)."""
        if raw is None:
            return None
        value = normalise(_CONTROL.sub(" ", str(raw)[:4096]))
        if not value:
            return None
        if value in self.exact.get(attribute, ()):
            return value
        if attribute == self.zip_attribute:
            match = _ZIP.match(value)
            if match:
                return match.group(1)
        for prefix in self.prefixes.get(attribute, ()):
            if value.startswith(prefix):
                return prefix
        if (attribute in self.token_attributes and _TOKEN.match(value)
                and not _DIGIT_RUN.search(value)):
            return value
        return OTHER

    def clean(self, attributes: Mapping[str, object]) -> dict[str, str]:
        """Only the attributes this vocabulary knows, each reduced by `keep`."""
        out: dict[str, str] = {}
        for attribute in self.known:
            kept = self.keep(attribute, attributes.get(attribute))
            if kept is not None:
                out[attribute] = kept
        return out

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.exact) | frozenset(self.prefixes) | {self.zip_attribute} \
            | self.token_attributes


def build_vocabulary(rulebook: Rulebook, attributes: frozenset[str], *, zip_attribute: str,
                     token_attributes: frozenset[str] = frozenset({"source"})) -> Vocabulary:
    """The vocabulary of `rulebook` over the configured lead `attributes` ([fields] keys)."""
    exact: dict[str, set[str]] = {name: set() for name in attributes}
    prefixes: dict[str, set[str]] = {}
    for rule in rulebook.rules:
        for condition in rule.conditions:
            values = {normalise(v) for v in condition.values if len(v) <= MAX_VALUE_LENGTH}
            if condition.op in (Op.IN, Op.NOT_IN):
                exact.setdefault(condition.attribute, set()).update(values)
            elif condition.op is Op.PREFIX:
                prefixes.setdefault(condition.attribute, set()).update(values)
    levels = exact.setdefault(rulebook.level_of_care_attribute, set())
    for facility in rulebook.facilities.values():
        levels.update(facility.levels_of_care)
    for name in list(exact):
        exact[name].discard(OTHER)  # by construction `OTHER` never equals a listed value
        if name not in attributes:
            del exact[name]
    return Vocabulary(
        exact={name: frozenset(values) for name, values in exact.items()},
        prefixes={name: tuple(sorted(values, key=len, reverse=True))
                  for name, values in prefixes.items() if name in attributes},
        zip_attribute=zip_attribute,
        token_attributes=frozenset(token_attributes) & attributes,
    )
