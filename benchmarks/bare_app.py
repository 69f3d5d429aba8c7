"""The baseline of benchmarks/load.py: a bare Flask app that receives a form and keeps nothing.

benchmarks/load.py serves it with the same gunicorn configuration as the submission site
(`gunicorn -c python:portal.gunicorn_config benchmarks.bare_app:app`: same workers, threads and
worker class) and sends it the same requests, so that the ratio portal / bare isolates what the
portal itself does with a report (CSRF, form parsing, Argon2id, encryption, the database, the
templates) from what any Flask app under this gunicorn costs on this machine.
"""

from __future__ import annotations

from flask import Flask, request

# The same size as the portal's age payload chunks: reading costs the same, memory stays flat.
READ_SIZE = 64 * 1024

app = Flask(__name__)


@app.get("/report/other")
def form() -> str:
    """The GET-equivalent of the portal's form page: a small page, no template, no session."""
    return "<!doctype html><title>form</title><p>bare endpoint</p>"


@app.post("/report/other")
def receive() -> str:
    """Read the whole body in chunks, as any app must, then answer 200 and keep nothing."""
    while request.stream.read(READ_SIZE):
        pass
    return "<!doctype html><title>received</title><p>received</p>"
