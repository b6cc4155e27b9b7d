"""Persistence: SQLAlchemy 2 models of the desired state, the database engine, Alembic migrations."""
