"""Email intake: leads that arrive as notification emails in a shared mailbox (IMAP) become
CRM records, routed like any other lead, exactly once (CONTRACTS.md Part 4).

    mailbox.py   IMAP over TLS/STARTTLS: new messages by UID, folders, MOVE
    parse.py     MIME -> the format that matches, its labels and values
    normalize.py values as the CRM should hold them (E.164, lower-case email, ZIP5, state code)
    process.py   the pipeline step: intent, lookup or create, arrive, route, move
    sample.py    `leadrouter intake test FILE.eml`
"""
