"""Error pages: plain language, the site's own layout, never a trace or an exception message."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from portal.errors import ERROR_PAGES
from portal.security import BASELINE_HEADERS
from tests.support.probes import CRASH_MESSAGE, add_probes

TRACE_MARKERS = ("Traceback", 'File "', "werkzeug", "RuntimeError", "Werkzeug Debugger")


@pytest.fixture
def app(any_app: Flask) -> Flask:
    # Not in testing mode: exceptions must reach the error handlers as they do in production.
    return add_probes(any_app)


def _assert_plain_error_page(response: TestResponse, code: int) -> None:
    assert response.status_code == code
    assert response.mimetype == "text/html"
    assert f"<title>{ERROR_PAGES[code].title}" in response.text
    assert str(ERROR_PAGES[code].explanation) in response.text
    for marker in TRACE_MARKERS:
        assert marker not in response.text
    for name, value in BASELINE_HEADERS.items():
        assert response.headers[name] == value


def _request_causing(code: int, app: Flask) -> TestResponse:
    client = app.test_client()
    if code == 400:
        return client.post("/probe/form", data={})  # no CSRF token
    if code == 404:
        return client.get("/no-such-page")
    if code == 405:
        return client.delete("/")
    if code == 413:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return client.post("/probe/form", data={"text": "x" * (limit + 1)})
    if code == 500:
        return client.get("/probe/crash")
    return client.get(f"/probe/abort/{code}")


@pytest.mark.parametrize("code", sorted(ERROR_PAGES))
def test_each_error_gets_a_plain_page_in_the_sites_layout(app: Flask, code: int) -> None:
    response = _request_causing(code, app)

    _assert_plain_error_page(response, code)
    assert 'class="site-header"' in response.text


def test_a_crash_shows_no_trace_and_logs_the_type_but_not_the_message(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    response = app.test_client().get("/probe/crash")

    _assert_plain_error_page(response, 500)
    assert CRASH_MESSAGE not in response.text
    log = capsys.readouterr().err
    assert "builtins.RuntimeError: (message withheld)" in log
    assert "Exception on /probe/crash [GET]" in log
    assert CRASH_MESSAGE not in log


def test_a_failed_post_on_the_submission_site_says_the_report_was_not_saved(
    submit_app: Flask,
) -> None:
    response = add_probes(submit_app).test_client().post("/probe/form", data={"report": "..."})

    assert response.status_code == 400
    assert "it has not been saved" in response.text


def test_a_failed_page_view_does_not_talk_about_saving(submit_app: Flask) -> None:
    response = submit_app.test_client().get("/no-such-page")

    assert "has not been saved" not in response.text


def test_an_unusual_error_code_still_gets_a_plain_page(app: Flask) -> None:
    response = app.test_client().get("/probe/abort/418")

    assert response.status_code == 418
    assert "Sorry, something went wrong" in response.text
