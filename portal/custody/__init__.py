"""What guards the portal's secrets. Only the review site and the command line import this.

- `recovery`: creating the inspectorate's identity and keeping it in a passphrase-encrypted
  recovery file;
- `keyrings`: each reviewer's keyring (TOTP secret and identity), wrapped under a password or
  enrolment code;
- `session_vault`: a signed-in reviewer's keyring between requests, sealed under a key that
  only their cookie holds.

Reading the public recipients file is not custody: the submission site needs it, and it lives
in `portal.recipients`. The submission site never imports this package (a test proves it).
"""
