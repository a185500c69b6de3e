"""Alembic revisions of the state store, one file per schema version (see
`state.migrations` for the naming rule). A package so the wheel ships them."""
