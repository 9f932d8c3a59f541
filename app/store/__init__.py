"""SQLite persistence through SQLAlchemy, Alembic migrations, and review importers."""
