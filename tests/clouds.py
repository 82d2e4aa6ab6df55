"""A whole cloud on simulated hosts, as a batch file with fixed uuids, for tests
that drive the command (later lines name what earlier lines made)."""

ZONE, CLUSTER, HOST1, HOST2 = "a1" * 16, "a2" * 16, "a3" * 16, "a4" * 16
PS, BS, IMAGE, OFFERING, DISK = "b1" * 16, "b2" * 16, "b3" * 16, "b4" * 16, "b5" * 16
L2, L3, VM1, VM2, VM3, DATA = "c1" * 16, "c2" * 16, "d1" * 16, "d2" * 16, "d3" * 16, "e1" * 16


def environment(tmp_path, image):
    return f"""\
# a cloud from nothing: every uuid chosen here, so later lines can name them
CreateZone name=zone1 resourceUuid={ZONE}
CreateCluster name=cluster1 zoneUuid={ZONE} hypervisorType=KVM resourceUuid={CLUSTER}
AddLocalPrimaryStorage name=ps1 url=/zstack_ps zoneUuid={ZONE} resourceUuid={PS}
AttachPrimaryStorageToCluster primaryStorageUuid={PS} clusterUuid={CLUSTER}
AddKVMHost name=host1 clusterUuid={CLUSTER} managementIp=127.0.0.1 username=root \\
    password=password libvirtUri=test:///default resourceUuid={HOST1}
AddKVMHost name=host2 clusterUuid={CLUSTER} managementIp=127.0.0.2 username=root \\
    password=password libvirtUri=test:///default resourceUuid={HOST2}
AddSftpBackupStorage name=bs1 url={tmp_path}/bs hostname=127.0.0.1 username=root \\
    password=password resourceUuid={BS}
AttachBackupStorageToZone backupStorageUuid={BS} zoneUuid={ZONE}
AddImage name=tiny format=qcow2 url=file://{image} backupStorageUuids={BS} resourceUuid={IMAGE}
CreateInstanceOffering name=small cpuNum=1 memorySize=64M resourceUuid={OFFERING}
CreateDiskOffering name=d1 diskSize=16M resourceUuid={DISK}
CreateL2NoVlanNetwork name=l2 zoneUuid={ZONE} physicalInterface=eth1 resourceUuid={L2}
AttachL2NetworkToCluster l2NetworkUuid={L2} clusterUuid={CLUSTER}
CreateL3Network name=l3 l2NetworkUuid={L2} resourceUuid={L3}
AddIpRange l3NetworkUuid={L3} name=r1 startIp=10.0.0.10 endIp=10.0.0.20 \\
    netmask=255.255.255.0 gateway=10.0.0.1
AddDnsToL3Network l3NetworkUuid={L3} dns=10.0.0.2
# the static address first: random allocation could take it otherwise
CreateVmInstance name=vm2 instanceOfferingUuid={OFFERING} imageUuid={IMAGE} \\
    l3NetworkUuids={L3} strategy=CreateStopped resourceUuid={VM2} \\
    systemTags=staticIp::{L3}::10.0.0.15
CreateVmInstance name=vm1 instanceOfferingUuid={OFFERING} imageUuid={IMAGE} \\
    l3NetworkUuids={L3} hostUuid={HOST1} resourceUuid={VM1} systemTags=hostname::web1
CreateVmInstance name=vm3 instanceOfferingUuid={OFFERING} imageUuid={IMAGE} \\
    l3NetworkUuids={L3} strategy=JustCreate resourceUuid={VM3} dataDiskOfferingUuids={DISK}
CreateDataVolume name=data1 diskOfferingUuid={DISK} resourceUuid={DATA}
AttachDataVolumeToVm vmInstanceUuid={VM1} volumeUuid={DATA}
"""
