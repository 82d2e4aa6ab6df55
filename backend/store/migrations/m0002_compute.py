"""Compute: hosts, storage, images, offerings, networks, VMs, volumes, snapshots.

Columns are written out here, not derived from the catalogue: a released
migration must never change when the catalogue does (a test checks that the
schema, after every migration, holds each inventory field the catalogue names).
"""

BASE = "uuid name description createDate lastOpDate"


def _columns(spec):
    """'a b:int c' -> {'a': str, 'b': int, 'c': str}"""
    out = {}
    for word in spec.split():
        name, _, kind = word.partition(":")
        out[name] = int if kind == "int" else str
    return out


def _table(db, name, spec, pk="uuid", fks=(), indexes=(), unique=(), not_null=()):
    db[name].create(_columns(spec), pk=pk, foreign_keys=list(fks), not_null=set(not_null))
    for column in indexes:
        db[name].create_index([column] if isinstance(column, str) else list(column))
    for columns in unique:
        db[name].create_index(list(columns), unique=True)


def up(db):
    _table(db, "HostVO", BASE + " zoneUuid clusterUuid managementIp hypervisorType state status"
           " libvirtUri username password sshPort:int cpuNum:int totalCpuCapacity:int"
           " availableCpuCapacity:int totalMemoryCapacity:int availableMemoryCapacity:int",
           fks=[("zoneUuid", "ZoneVO", "uuid"), ("clusterUuid", "ClusterVO", "uuid")],
           indexes=("zoneUuid", "clusterUuid", "name", "state", "status", "managementIp",
                    "createDate"))

    _table(db, "PrimaryStorageVO", BASE + " zoneUuid url type state status mountPath"
           " totalCapacity:int availableCapacity:int totalPhysicalCapacity:int"
           " availablePhysicalCapacity:int", fks=[("zoneUuid", "ZoneVO", "uuid")],
           indexes=("zoneUuid", "name", "createDate"))
    _table(db, "PrimaryStorageClusterRefVO", "primaryStorageUuid clusterUuid createDate",
           pk=("primaryStorageUuid", "clusterUuid"),
           fks=[("primaryStorageUuid", "PrimaryStorageVO", "uuid"),
                ("clusterUuid", "ClusterVO", "uuid")], indexes=("clusterUuid",))
    _table(db, "LocalStorageHostRefVO", "primaryStorageUuid hostUuid totalCapacity:int"
           " availableCapacity:int totalPhysicalCapacity:int availablePhysicalCapacity:int"
           " createDate lastOpDate", pk=("primaryStorageUuid", "hostUuid"),
           fks=[("primaryStorageUuid", "PrimaryStorageVO", "uuid"),
                ("hostUuid", "HostVO", "uuid")], indexes=("hostUuid",))
    _table(db, "LocalStorageResourceRefVO", "resourceUuid resourceType primaryStorageUuid"
           " hostUuid size:int createDate lastOpDate", pk="resourceUuid",
           fks=[("primaryStorageUuid", "PrimaryStorageVO", "uuid"),
                ("hostUuid", "HostVO", "uuid")],
           indexes=("hostUuid", "primaryStorageUuid", "resourceType", "createDate"))
    _table(db, "ImageCacheVO", "primaryStorageUuid hostUuid imageUuid installPath md5Sum"
           " size:int createDate", pk=("primaryStorageUuid", "hostUuid", "imageUuid"),
           fks=[("primaryStorageUuid", "PrimaryStorageVO", "uuid"),
                ("hostUuid", "HostVO", "uuid")], indexes=("imageUuid", "hostUuid"))

    _table(db, "BackupStorageVO", BASE + " url hostname username password sshPort:int type"
           " state status totalCapacity:int availableCapacity:int",
           indexes=("name", "createDate"))
    _table(db, "BackupStorageZoneRefVO", "backupStorageUuid zoneUuid createDate",
           pk=("backupStorageUuid", "zoneUuid"),
           fks=[("backupStorageUuid", "BackupStorageVO", "uuid"), ("zoneUuid", "ZoneVO", "uuid")],
           indexes=("zoneUuid",))
    _table(db, "ImageVO", BASE + " url mediaType format platform guestOsType system:int type"
           " state status size:int actualSize:int md5Sum",
           indexes=("name", "mediaType", "status", "createDate"))
    _table(db, "ImageBackupStorageRefVO", "imageUuid backupStorageUuid installPath status"
           " createDate lastOpDate", pk=("imageUuid", "backupStorageUuid"),
           fks=[("imageUuid", "ImageVO", "uuid"),
                ("backupStorageUuid", "BackupStorageVO", "uuid")],
           indexes=("backupStorageUuid",))

    _table(db, "InstanceOfferingVO", BASE + " cpuNum:int cpuSpeed:int memorySize:int type"
           " allocatorStrategy sortKey:int state", indexes=("name", "createDate"))
    _table(db, "DiskOfferingVO", BASE + " diskSize:int type allocatorStrategy sortKey:int state",
           indexes=("name", "createDate"))

    _table(db, "L2NetworkVO", BASE + " zoneUuid physicalInterface type vlan:int",
           fks=[("zoneUuid", "ZoneVO", "uuid")],
           indexes=("zoneUuid", "name", "physicalInterface", "createDate"))
    _table(db, "L2NetworkClusterRefVO", "l2NetworkUuid clusterUuid createDate",
           pk=("l2NetworkUuid", "clusterUuid"),
           fks=[("l2NetworkUuid", "L2NetworkVO", "uuid"), ("clusterUuid", "ClusterVO", "uuid")],
           indexes=("clusterUuid",))
    _table(db, "L3NetworkVO", BASE + " type zoneUuid l2NetworkUuid state system:int dnsDomain",
           fks=[("zoneUuid", "ZoneVO", "uuid"), ("l2NetworkUuid", "L2NetworkVO", "uuid")],
           indexes=("zoneUuid", "l2NetworkUuid", "name", "createDate"))
    _table(db, "L3NetworkDnsVO", "l3NetworkUuid dns createDate", pk=("l3NetworkUuid", "dns"),
           fks=[("l3NetworkUuid", "L3NetworkVO", "uuid")])
    _table(db, "IpRangeVO", BASE + " l3NetworkUuid startIp endIp netmask gateway networkCidr"
           " startIpInLong:int endIpInLong:int", fks=[("l3NetworkUuid", "L3NetworkVO", "uuid")],
           indexes=("l3NetworkUuid", "name", "createDate"))
    _table(db, "UsedIpVO", "uuid ipRangeUuid l3NetworkUuid ip ipInLong:int gateway netmask"
           " usedFor vmNicUuid createDate", fks=[("ipRangeUuid", "IpRangeVO", "uuid")],
           indexes=("ipRangeUuid", "vmNicUuid", "ip"), unique=[("l3NetworkUuid", "ipInLong")])

    _table(db, "VmInstanceVO", BASE + " zoneUuid clusterUuid hostUuid lastHostUuid imageUuid"
           " instanceOfferingUuid rootVolumeUuid defaultL3NetworkUuid type hypervisorType"
           " cpuNum:int cpuSpeed:int memorySize:int platform allocatorStrategy state",
           indexes=("zoneUuid", "clusterUuid", "hostUuid", "imageUuid", "name", "state",
                    "createDate"))
    _table(db, "VmNicVO", "uuid vmInstanceUuid l3NetworkUuid ip mac netmask gateway usedIpUuid"
           " deviceId:int metaData createDate lastOpDate",
           fks=[("vmInstanceUuid", "VmInstanceVO", "uuid"), ("l3NetworkUuid", "L3NetworkVO",
                                                             "uuid")],
           indexes=("vmInstanceUuid", "l3NetworkUuid", "ip", "createDate"), unique=[("mac",)])
    _table(db, "VolumeVO", BASE + " primaryStorageUuid vmInstanceUuid diskOfferingUuid"
           " rootImageUuid installPath type format size:int actualSize:int deviceId:int state"
           " status isShareable:int",
           indexes=("primaryStorageUuid", "vmInstanceUuid", "name", "type", "status",
                    "createDate"))
    _table(db, "VolumeSnapshotVO", BASE + " type volumeUuid parentUuid primaryStorageUuid"
           " primaryStorageInstallPath volumeType format latest:int size:int state status",
           indexes=("volumeUuid", "primaryStorageUuid", "name", "createDate"))
