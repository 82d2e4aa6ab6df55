"""The rules a VM's system tags follow whichever API sets them (SPEC §8):
CreateVmInstance's ``systemTags``, and CreateSystemTag and UpdateSystemTag on
an existing VM.

A hostname is the VM's name in its networks' DHCP (Flat: dnsmasq would give two
VMs of one L3 the same name), so a VM has one, unique on each of its L3s. A
static IP names one of the VM's L3s and an address that L3 can give it.
"""

from ..i18n import msg
from ..errors import argerr
from . import ipam, tags

HOSTNAME, STATIC_IP = "hostname::", "staticIp::"


def hostname_clash(store, hostname, l3_uuids, vm_uuid=None):
    """Refuse ``hostname`` when another VM than ``vm_uuid`` on one of the L3s has it."""
    for l3 in l3_uuids:
        clash = store.row(
            "SELECT t.resourceUuid FROM SystemTagVO t JOIN VmNicVO n ON n.vmInstanceUuid = "
            "t.resourceUuid WHERE t.tag = ? AND n.l3NetworkUuid = ? AND t.resourceUuid IS NOT ?",
            (HOSTNAME + hostname, l3, vm_uuid))
        if clash:
            raise argerr(msg("the hostname[{hostname}] is already used by the "
                             "VM[uuid:{clash}] on the L3 network[uuid:{l3}]",
                             hostname=hostname, clash=clash[0], l3=l3))


def check_on_vm(ctx, vm_uuid, tag, replacing=None):
    """A system tag about to be set on an existing VM: a new one, or the tag whose
    uuid is ``replacing`` changed into it."""
    store = ctx.store
    _, tokens = tags.check_system_tag("VmInstanceVO", tag)
    l3s = [r[0] for r in store.rows("SELECT l3NetworkUuid FROM VmNicVO WHERE vmInstanceUuid = ?",
                                    (vm_uuid,))]
    if tag.startswith(HOSTNAME):
        other = store.row("SELECT tag FROM SystemTagVO WHERE resourceUuid = ? AND tag LIKE "
                          "'hostname::%' AND tag != ? AND uuid IS NOT ?",
                          (vm_uuid, tag, replacing))
        if other:
            raise argerr(msg("the VM[uuid:{vm}] already has the hostname[{hostname}]; update "
                             "that tag instead", vm=vm_uuid, hostname=other[0][len(HOSTNAME):]))
        hostname_clash(store, tokens["name"], l3s, vm_uuid)
    elif tag.startswith(STATIC_IP):
        l3 = tokens["l3Uuid"]
        if l3 not in l3s:
            raise argerr(msg("the L3 network[uuid:{l3Uuid}] of the tag[{tag}] is not one of "
                             "the VM's networks", l3Uuid=l3, tag=tag))
        nic = store.value("SELECT uuid FROM VmNicVO WHERE vmInstanceUuid = ? AND "
                          "l3NetworkUuid = ?", (vm_uuid, l3))
        ipam.check_static(store, l3, tokens["ip"], holder=nic)
