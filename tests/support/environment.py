"""Environment variables that hand a test's settings to a process it runs the way a deployment
would (the `portal` command), so both work on the same database and folders."""

from __future__ import annotations

from portal.config import Settings


def environment_for(settings: Settings) -> dict[str, str]:
    """The `PORTAL_*` variables naming `settings`' database, instance, keys and blob folders."""
    return {
        "PORTAL_INSTANCE_DIR": str(settings.instance_dir),
        "PORTAL_KEYS_DIR": str(settings.keys_dir),
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_BLOB_DIR": str(settings.blobs),
    }
