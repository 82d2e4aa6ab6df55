"""The one exception of the Flat network runtime."""

from ...i18n import Error


class FlatNetworkError(Error):
    """A one-line reason why a DHCP server could not be set up, changed or removed;
    its text is a message (backend.i18n), shown in the reply's language."""
