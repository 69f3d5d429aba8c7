"""A gunicorn logger that cannot record who made a request, or exactly when."""

from __future__ import annotations

import datetime
from typing import Any

from gunicorn.glogging import Logger

from portal.logs import LOG_FORMAT, RedactAddresses

# Atoms that identify a client or time a request precisely: always logged as "-", whatever
# access_log_format asks for.
_WITHHELD_ATOMS = ("h", "l", "u", "t", "f", "a")


class AnonymousLogger(Logger):
    """gunicorn's logger without timestamps, client addresses, user agents or referrers."""

    error_fmt = LOG_FORMAT.replace("%(name)s", "gunicorn")
    access_fmt = "%(message)s"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # gunicorn itself names the client in some warnings ("Invalid request from ip=...").
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.addFilter(RedactAddresses())

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta
    ) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _WITHHELD_ATOMS:
            atoms[name] = "-"
        # Request headers ({name}i) and environ values ({name}e) can carry the address too.
        return {key: value for key, value in atoms.items() if not key.startswith("{")}
