"""LocalStorageMigrationVO learns what a migration needs after its switch, while
the copy is made durable and checked from the disk before the source goes
(SPEC §11): where the VM was (``vmPlace``, JSON: hostUuid, lastHostUuid,
clusterUuid, zoneUuid), to put it back if the check fails, and the checksum a
file must show when its header was rewritten on the way (``expected``, JSON:
logical path -> checksum; the source's own otherwise).
"""


def up(db):
    db["LocalStorageMigrationVO"].add_column("vmPlace", str)
    db["LocalStorageMigrationVO"].add_column("expected", str)
