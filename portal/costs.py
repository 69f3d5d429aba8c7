"""What the slow hashes cost: Argon2id work factors, chosen in the settings and lowered by tests.

Kept apart from the code that hashes, so the settings can name them without importing the
services that use them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ceilings on a cost, checked here and on the cost read back from a stored hash, so a tampered
# row cannot make a sign-in allocate gigabytes or run for minutes. Far above any cost this
# portal would configure.
MAX_MEMORY_KIB = 1024 * 1024
MAX_ITERATIONS = 64
MAX_LANES = 64


@dataclass(frozen=True)
class PasswordCost:
    """Argon2id cost. The defaults are OWASP's recommended minimum for Argon2id (19 MiB, two
    passes, one lane); tests lower them. Every sign-in, successful or not, pays this once."""

    memory_kib: int = 19_456
    iterations: int = 2
    lanes: int = 1

    def __post_init__(self) -> None:
        # Refused here rather than at first sign-in, and within the limits a stored hash is held
        # to, so that every hash this cost makes can be verified.
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"Argon2id lanes must be 1 to {MAX_LANES}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError(f"Argon2id memory must be 8 KiB per lane to {MAX_MEMORY_KIB} KiB")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"Argon2id iterations must be 1 to {MAX_ITERATIONS}")


@dataclass(frozen=True)
class HashCost:
    """Argon2id cost. The defaults follow OWASP's guidance for interactive logins; tests lower
    them. Every submission and every follow-up sign-in pays this once."""

    memory_kib: int = 47_104
    iterations: int = 1
    lanes: int = 1
