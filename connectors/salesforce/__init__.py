"""Salesforce adapter (simple-salesforce): `connector` (the port), `transport` (client,
limiter, retries, budget), `auth` (token / JWT bearer / client credentials), `query` (SOQL
and paging), `writes` (owners and tasks via sObject Collections), `attempts` (contact
signals), `errors` (the error table)."""
