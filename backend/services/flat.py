"""The Flat network provider: distributed DHCP and userdata (SPEC §9).

Keeps each host's DHCP/metadata servers in step with the records: called
whenever an L3's services change or a VM on a host starts, stops, moves or goes.
"""


def sync_l3(ctx, l3_uuid):
    """Bring every host's servers for this L3 in line with its services and VMs."""
    return None
