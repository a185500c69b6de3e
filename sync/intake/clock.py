"""How an email-delivered lead is marked: its SLA clock starts when its message arrived.

Email intake stores this routing attribute (a category, no PHI) on the lead; `lead_for`
(sync/route.py) then starts the first decision's clock at the lead's `created_at`, the
message's IMAP INTERNALDATE, and routing computes the deadline from there on the rule's own
clock (wall or business hours).
"""

ARRIVED_BY = "arrived_by"
EMAIL = "email"
