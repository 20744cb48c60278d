"""Where the demo library keeps its state between runs.

With a file: SQLite, one row per view holding the library as a JSON
document, written in a transaction so that two processes (a ``libcli demo``
and a test server, say) never see half a write. Without a file: nothing is
kept beyond the process.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .circulation import Clock, Library, json_default

SCHEMA_VERSION = 2  # 2: tuni moved to Primo VE, its records and items got Alma ids


class Store:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else None
        self._memory: dict[str, dict[str, Any]] = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS library "
                           "(view TEXT PRIMARY KEY, version INTEGER, saved TEXT, doc TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def load(self, view: str) -> dict[str, Any] | None:
        if self.path is None:
            return self._memory.get(view)
        with self._connect() as db:
            row = db.execute("SELECT version, doc FROM library WHERE view = ?", (view,)).fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            return None  # an older layout is re-seeded rather than migrated: it is demo data
        return json.loads(row[1])

    def save(self, view: str, data: dict[str, Any]) -> None:
        doc = json.dumps(data, default=json_default, ensure_ascii=False)
        if self.path is None:
            self._memory[view] = json.loads(doc)
            return
        saved = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO library (view, version, saved, doc) "
                       "VALUES (?, ?, ?, ?)", (view, SCHEMA_VERSION, saved, doc))

    def load_library(self, view: str, clock: Clock | None = None) -> Library | None:
        data = self.load(view)
        return Library.from_dict(data, clock=clock) if data else None

    def save_library(self, library: Library) -> None:
        self.save(library.view, library.to_dict())
