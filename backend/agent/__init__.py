"""Processes that run on a host beside the VMs, apart from any zstack-cli process:
the Flat provider's userdata/metadata server (``metadata_server``)."""
