"""Timestamps and identifiers in ZStack's shapes (a leaf: the store and the services both use it)."""

import os
from datetime import datetime, timedelta, timezone


def now(offset_seconds=0):
    """ISO 8601 in UTC with milliseconds: sorts as text, reads as a date."""
    t = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    return t.isoformat(timespec="milliseconds")


def new_uuid():
    """32 lowercase hex characters, like ZStack's uuids."""
    return os.urandom(16).hex()
