"""The one exception of the Flat network runtime."""


class FlatNetworkError(Exception):
    """A one-line reason why a DHCP server could not be set up, changed or removed."""
