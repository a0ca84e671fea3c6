"""JSON logs for the service and CLI. Configured only by the outer layers (cli, app).

No request bodies and no patient data are ever passed to a logger: modules log ids, counts,
names of models and error types. That holds for medmaas's own modules only; the libraries a
request passes through log at DEBUG what they are handed (fsspec the path of every file it
opens, named as the upload named it), so the level asked for applies to ``medmaas.*`` and every
other logger stays at INFO or above.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(entry)


#: The most verbose level of loggers outside ``medmaas``, whatever ``configure`` is asked for.
LIBRARY_LEVEL = logging.INFO


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr: ``level`` for medmaas's loggers, at most :data:`LIBRARY_LEVEL`
    for everyone else's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    own = logging.getLogger("medmaas")
    own.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(own.level, LIBRARY_LEVEL))
