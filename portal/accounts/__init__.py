"""Reviewer accounts: password hashing and policy, TOTP second factor, and the enrolment QR code.

No Flask imports: the review blueprint and the `portal users` command both build on these.
"""
