"""What the hypervisor layer raises.

Both carry a one-line message fit for an API error's details: services turn
them into ZStack errors (a HostUnreachable makes the host Disconnected and
its VMs Unknown). Neither module here lets a raw libvirtError escape.
"""


class HypervisorError(Exception):
    """A libvirt operation on a host failed."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class HostUnreachable(HypervisorError):
    """The host's libvirt could not be reached (or the connection was lost)."""
