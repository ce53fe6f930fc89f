"""Opening the store the settings name: the SQLite file BRIEF_DB (BRIEF_DATABASE_URL empty, the
default) or the PostgreSQL database BRIEF_DATABASE_URL names (knowledge/store/postgres/)."""

from __future__ import annotations

import importlib
import importlib.util

from knowledge.errors import StoreError
from knowledge.settings import Settings
from knowledge.store import SQLiteStore
from knowledge.store.protocols import StoreBackend
from knowledge.urls import database_label

POSTGRES_MODULE = "knowledge.store.postgres"  # provides open_postgres(settings) -> StoreBackend


def open_store(settings: Settings) -> StoreBackend:
    """The store for these settings, opened (and migrated when it is writable)."""
    url = settings.database_url
    if not url:
        return SQLiteStore(settings.db)
    if importlib.util.find_spec(POSTGRES_MODULE) is None:
        raise StoreError(
            f"BRIEF_DATABASE_URL names {database_label(url)}, but this build of "
            "indopac-brief has no PostgreSQL store. Unset BRIEF_DATABASE_URL to use the "
            "SQLite file BRIEF_DB."
        )
    # imported by name, only when asked for: SQLite users never load psycopg
    module = importlib.import_module(POSTGRES_MODULE)
    store: StoreBackend = module.open_postgres(settings)
    return store
