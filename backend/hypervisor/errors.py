"""What the hypervisor layer raises.

Both carry a one-line message (backend.i18n.msg) fit for an API error's
details, shown in the reply's language: services turn them into ZStack
errors (a HostUnreachable makes the host Disconnected and its VMs Unknown).
Neither module here lets a raw libvirtError escape.
"""

from ..i18n import Error


class HypervisorError(Error):
    """A libvirt operation on a host failed."""


class HostUnreachable(HypervisorError):
    """The host's libvirt could not be reached (or the connection was lost)."""
