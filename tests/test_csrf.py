"""CSRF: every state-changing request needs the token from the same session."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.probes import ACCEPTED, add_probes

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def app(any_app: Flask) -> Flask:
    return add_probes(any_app)


def test_a_post_with_the_sessions_token_is_accepted(app: Flask) -> None:
    client = app.test_client()
    token = client.get("/probe/form").text

    response = client.post("/probe/form", data={"csrf_token": token})

    assert response.status_code == 200
    assert response.text == ACCEPTED


def test_a_post_without_a_token_is_refused_with_a_plain_page(app: Flask) -> None:
    client = app.test_client()
    client.get("/probe/form")

    response = client.post("/probe/form", data={"anything": "x"})

    assert response.status_code == 400
    assert ACCEPTED not in response.text
    assert "There was a problem with what your browser sent" in response.text


def test_a_token_from_another_session_is_refused(app: Flask) -> None:
    stolen = app.test_client().get("/probe/form").text
    victim = app.test_client()
    victim.get("/probe/form")

    response = victim.post("/probe/form", data={"csrf_token": stolen})

    assert response.status_code == 400
    assert ACCEPTED not in response.text


def test_every_route_that_changes_state_refuses_a_request_without_a_token(app: Flask) -> None:
    client = app.test_client()
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.arguments:
            continue
        for method in sorted(set(STATE_CHANGING) & (rule.methods or set())):
            response = client.open(rule.rule, method=method, data={"field": "value"})
            assert response.status_code == 400, f"{method} {rule.rule} accepted without a token"
            checked.append(f"{method} {rule.rule}")

    assert "POST /probe/form" in checked
