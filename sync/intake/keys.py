"""Outbox keys of intake's follow-up tasks (sync/apply/tasks.py reads the prefix: no owner
write first)."""

FOLLOW_UP_PREFIX = "intake/"


def follow_up_key(message_key: str) -> str:
    """One follow-up task per message: `intake/<message key prefix>/task`."""
    return f"{FOLLOW_UP_PREFIX}{message_key[:32]}/task"
