"""Processes that run on a host beside the VMs, apart from any zstack-cli process:
the Flat provider's userdata/metadata server (``metadata_server``), the host
agent that follows a host's domains (``host_agent``), and the entry point of the
agent a remote host runs (``remote_main``)."""
