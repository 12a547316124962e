"""Alembic environment and revisions of the operational store, shipped inside the package."""
