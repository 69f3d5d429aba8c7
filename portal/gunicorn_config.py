"""gunicorn settings for both sites.

    gunicorn -c python:portal.gunicorn_config --bind 127.0.0.1:8000 wsgi:submit_app
    gunicorn -c python:portal.gunicorn_config --bind 127.0.0.1:8001 wsgi:review_app

Command-line options override these (`--workers 4`). The access log is off unless asked for
(`--access-logfile -`); when on, its lines name the request and the response and nothing about
the client. Even so, a process manager may stamp each line with the time it arrived: leave the
submission site's access log off in production.
"""

from __future__ import annotations

import sys
from typing import Any

from portal.config import ConfigError, Settings

worker_class = "gthread"
workers = 2
# Threads keep a slow client (Tor, a phone) from holding a whole worker.
threads = 4
timeout = 60
logger_class = "portal.gunicorn_logger.AnonymousLogger"
# gunicorn's control socket (one per user, shared by every instance) is not used by the portal.
control_socket_disable = True
access_log_format = '"%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def on_starting(server: Any) -> None:
    """Refuse to start, with one line, when the portal's settings are unsafe or malformed."""
    try:
        Settings.from_env()
    except ConfigError as error:
        server.log.error("Cannot start: %s", error)
        sys.exit(1)
