"""Alembic migration environment of the state store (run by `state.migrations`, never
imported by the application: `env.py` only works inside an Alembic command)."""
