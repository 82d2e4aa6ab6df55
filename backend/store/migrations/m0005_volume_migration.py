"""LocalStorageMigrationVO: a volume migration in progress (SPEC §11).

Written before the first byte is copied and removed after the last source file
is gone: the intent that lets a later process finish or roll back a migration
whose process died, and the destination's capacity reservation meanwhile.
No foreign keys: the record must outlive whatever it names going away, so the
clean-up can still find the files.
"""


def up(db):
    db["LocalStorageMigrationVO"].create(
        {"volumeUuid": str, "primaryStorageUuid": str, "srcHostUuid": str, "dstHostUuid": str,
         "vmInstanceUuid": str, "vmState": str, "volumeStatus": str, "files": str,
         "size": int, "stage": str, "createDate": str, "lastOpDate": str},
        pk="volumeUuid", not_null={"primaryStorageUuid", "srcHostUuid", "dstHostUuid",
                                   "files", "size", "stage"})
    db["LocalStorageMigrationVO"].create_index(["primaryStorageUuid", "dstHostUuid", "size"],
                                               index_name="idx_LocalStorageMigrationVO_reserved")
