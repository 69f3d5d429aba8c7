"""A tripwire: no portal code reads what identifies a client (address, agent, referrer).

The portal never needs them; a change that starts reading one must remove this test, in review.
"""

from __future__ import annotations

import re

from portal.config import PROJECT_ROOT

IDENTIFYING_ACCESSORS = re.compile(
    r"remote_addr|REMOTE_ADDR|access_route|X-Forwarded-For|X-Real-IP|HTTP_X_FORWARDED"
    r"|user_agent|HTTP_USER_AGENT|\.referrer|HTTP_REFERER|ProxyFix",
)


def test_no_portal_module_reads_a_client_identifier() -> None:
    sources = [*sorted((PROJECT_ROOT / "portal").rglob("*.py")), PROJECT_ROOT / "wsgi.py"]

    offending = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if IDENTIFYING_ACCESSORS.search(line)
    ]

    assert len(sources) > 10
    assert offending == []
