"""Response headers and cookie settings shared by both sites."""

from __future__ import annotations

from flask import Flask, Response

# No inline script or style, nothing from another origin, no framing, forms post only here.
# script-src 'none': neither site runs any JavaScript, so an injection cannot run any either.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    )
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "clipboard-read",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
)

BASELINE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Nothing is cached, on the submitter's device or on the way: a cached page is evidence.
    "Cache-Control": "no-store",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"


def init_app(app: Flask, *, cookie_name: str, plain_http: bool) -> None:
    """Apply the cookie flags and add the baseline headers to every response of `app`."""
    app.config.update(
        # The __Host- prefix makes the browser refuse the cookie unless it is Secure, set by this
        # exact host and scoped to the whole site: no subdomain can plant or read it.
        SESSION_COOKIE_NAME=cookie_name if plain_http else f"__Host-{cookie_name}",
        SESSION_COOKIE_SECURE=not plain_http,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        PREFERRED_URL_SCHEME="http" if plain_http else "https",
    )
    headers = dict(BASELINE_HEADERS)
    if not plain_http:
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY

    @app.after_request
    def add_baseline_headers(response: Response) -> Response:
        # A view may set a stricter policy of its own (a decrypted download is sandboxed);
        # every other header is always the baseline's.
        policy = response.headers.get("Content-Security-Policy")
        response.headers.update(headers)
        if policy is not None:
            response.headers["Content-Security-Policy"] = policy
        return response
