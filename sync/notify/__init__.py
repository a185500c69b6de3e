"""Notifications: every assignment tells its owner, once, by email, Slack and SMS.

`subscriber` queues one outbox row per (event, assignment, channel) in the transaction of the
change; `deliver` (the pipeline's `notify` step) sends them outside any transaction through
the `channels` built from `[notifications]`, retrying, looking up uncertain sends, and
recording what it gave up on in the lead's trail.
"""
