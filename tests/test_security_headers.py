"""The security baseline: headers on every response, cookie flags, HSTS only over TLS."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from portal import create_review_app, create_submit_app, request_db
from portal.config import Settings
from portal.security import BASELINE_HEADERS, STRICT_TRANSPORT_SECURITY
from tests.support.probes import add_probes

REQUIRED_CSP_DIRECTIVES = (
    "default-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
)


def _responses_of_every_page(app: Flask) -> dict[str, TestResponse]:
    client = app.test_client()
    paths = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments
    ]
    paths += ["/static/portal.css", "/no-such-page"]
    return {path: client.get(path) for path in paths}


def test_every_page_carries_the_baseline_headers(any_app: Flask) -> None:
    responses = _responses_of_every_page(any_app)

    assert "/" in responses
    for path, response in responses.items():
        for name, value in BASELINE_HEADERS.items():
            assert response.headers.get(name) == value, f"{name} on {path}"
        assert response.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY


def test_the_content_security_policy_allows_nothing_inline_or_from_elsewhere() -> None:
    policy = BASELINE_HEADERS["Content-Security-Policy"]

    for directive in REQUIRED_CSP_DIRECTIVES:
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "http" not in policy and "*" not in policy


def _session_cookie(response: TestResponse) -> tuple[str, dict[str, str]]:
    (header,) = response.headers.getlist("Set-Cookie")
    cookie = SimpleCookie()
    cookie.load(header)
    (morsel,) = cookie.values()
    attributes = {key.lower(): str(value) for key, value in morsel.items() if value}
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    return morsel.key, attributes | {flag: "set" for flag in flags if "=" not in flag}


def test_cookies_are_host_only_secure_httponly_and_strict(any_app: Flask) -> None:
    site = any_app.name.removeprefix("portal.")
    response = add_probes(any_app).test_client().get("/probe/form")

    name, attributes = _session_cookie(response)

    assert name == f"__Host-portal-{site}"
    assert attributes["secure"] == "set"
    assert attributes["httponly"] == "set"
    assert attributes["samesite"] == "Strict"
    assert attributes["path"] == "/"
    assert "domain" not in attributes
    assert "expires" not in attributes, "the cookie must end with the browser session"


@pytest.mark.parametrize("factory", [create_submit_app, create_review_app])
def test_plain_http_development_drops_only_the_secure_flag_and_hsts(
    factory: object, settings: Settings
) -> None:
    app = factory(Settings(**{**settings.__dict__, "plain_http": True}))  # type: ignore[operator]
    try:
        response = add_probes(app).test_client().get("/probe/form")
        name, attributes = _session_cookie(response)
    finally:
        request_db.get_engine(app).dispose()

    assert not name.startswith("__Host-")
    assert "secure" not in attributes
    assert attributes["httponly"] == "set"
    assert attributes["samesite"] == "Strict"
    assert "Strict-Transport-Security" not in response.headers
    assert (
        response.headers["Content-Security-Policy"] == BASELINE_HEADERS["Content-Security-Policy"]
    )
