"""What a batch has done, kept in its output folder so that a rerun does only what is missing.

One JSON line per finished item (done or failed), appended and synced after the item's outputs
have been written atomically: a batch stopped at any moment leaves every line true. A line cut
short by a crash is ignored (that item is simply done again). Items are keyed by content (the
file's hash with the settings' digest, or the prompt's), not by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.atomic import WriteError, describe_write_error

MANIFEST_NAME = "motet-batch.jsonl"


class Manifest:
    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / MANIFEST_NAME
        self.records: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                    self.records[str(record["key"])] = record
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short when a batch was killed mid-write

    def is_done(self, key: str, out_dir: Path) -> bool:
        """Done before, and its outputs are still there (one deleted since is done again)."""
        record = self.records.get(key)
        return bool(record and record.get("status") == "done"
                    and all((Path(out_dir) / name).is_file() for name in record.get("outputs", [])))

    def record(self, key: str, status: str, **facts) -> None:
        """Append one line (``status``: "done" or "failed") and sync it to disk."""
        record = {"key": key, "status": status, **facts}
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WriteError(exc.errno, describe_write_error(self.path, exc, len(line))) from exc
        self.records[key] = record
