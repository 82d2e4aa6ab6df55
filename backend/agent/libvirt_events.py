"""libvirt's domain events for the host agent (host_agent.py): the event loop
thread, a connection that reports lifecycle and reboot events and its own
closing, and what an event's state is once confirmed on the connection."""

import threading
import time


def start_event_loop(libvirt, log):
    """libvirt's default event implementation, run on a thread; registered
    before any connection is opened (a connection opened earlier gets no events)."""
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=_event_loop, args=(libvirt, log), daemon=True,
                     name="libvirt-events").start()


def _event_loop(libvirt, log):
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError as e:
            log(f"event loop: {e}")
            time.sleep(0.1)


def open_watched(libvirt, uri, on_lifecycle, on_reboot, on_close):
    """A connection to ``uri`` calling back on domain lifecycle and reboot events
    and on its closing; HypervisorError when it can not be opened. The driver's
    opener never prompts for a password and gives up on a dead ssh address within
    seconds, so the agent's grace period is kept."""
    from ..hypervisor.driver import open_connection

    conn = open_connection(uri)
    conn._agent_callbacks = []
    try:
        conn.setKeepAlive(5, 3)
    except libvirt.libvirtError:
        pass                        # not every driver keeps alive
    conn.registerCloseCallback(on_close, None)
    conn._agent_callbacks.append(conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None))
    conn._agent_callbacks.append(conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, on_reboot, None))
    return conn


def close(libvirt, conn):
    """Its callbacks off, then closed; a connection already lost closes quietly."""
    for callback in conn._agent_callbacks:
        try:
            conn.domainEventDeregisterAny(callback)
        except libvirt.libvirtError:
            pass
    try:
        conn.unregisterCloseCallback()
    except libvirt.libvirtError:
        pass
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


_LIFECYCLE = {}


def state_of(event):
    """The VM state a lifecycle event means, or None for the others."""
    if not _LIFECYCLE:
        import libvirt

        _LIFECYCLE.update({libvirt.VIR_DOMAIN_EVENT_STARTED: "Running",
                           libvirt.VIR_DOMAIN_EVENT_RESUMED: "Running",
                           libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "Paused",
                           libvirt.VIR_DOMAIN_EVENT_STOPPED: "Stopped",
                           libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "Stopped",
                           libvirt.VIR_DOMAIN_EVENT_CRASHED: "Crashed"})
    return _LIFECYCLE.get(event)


def confirm(libvirt, conn, name, from_event):
    """The domain's state now: an event may be older than the truth. A SHUTDOWN
    event comes while the domain still runs its last instant: its STOPPED follows."""
    from ..hypervisor.driver import _STATES

    try:
        current = _STATES.get(conn.lookupByName(name).state()[0], "Unknown")
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return "Stopped"
        raise
    return from_event if current == "Unknown" else current
