"""Numbered schema migrations, applied in order and never edited once released.

A store records the number of migrations applied in ``PRAGMA user_version``.
To change the schema, add ``mNNNN_what.py`` with ``up(db)`` (``db`` is a
``sqlite_utils.Database``) and append its name here.
"""

STEPS = (
    "m0001_initial",
    "m0002_compute",
    "m0003_network_services",
    "m0004_accounting_indexes",
    "m0005_volume_migration",
    "m0006_migration_landing",
    "m0007_host_leftovers",
    "m0008_vm_transition_owner",
)

LATEST = len(STEPS)
