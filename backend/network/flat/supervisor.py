"""A small supervisor daemon for the metadata server of a DHCP namespace.

``python3 supervisor.py --pidfile=P --childpidfile=C --log=L --cwd=D -- cmd...``
detaches (fork, setsid, fork), writes its pid to P once ready, and runs
``cmd`` in D again and again: 0.25 s after an exit, doubling while the command
keeps dying young (under 10 s), up to 30 s. Its output and the supervisor's
go to L (copied to L.1 and emptied past 8 MiB). The child's pid is in C
while it runs, and the child gets SIGTERM should the supervisor die
(PR_SET_PDEATHSIG).
SIGTERM stops the child (SIGKILL after 5 s) and then the supervisor.

The script runs outside the package (by path, standard library only; from a
remote host's agent zip as ``agent.pyz supervise ...``), so it survives
whatever process started it. ``start``, ``stop``, ``running`` and
``command_of`` are the side the package calls.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

try:
    from . import proc
except ImportError:         # run as a script
    import proc

MIN_DELAY, MAX_DELAY, STABLE = 0.25, 30.0, 10.0
LOG_MAX, LOG_CHECK = 8 * 1024 * 1024, 30.0
PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------- the daemon
def _log(message):
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor[{os.getpid()}]: "
                     f"{message}\n")
    sys.stderr.flush()


def _die_with_parent():
    signal.signal(signal.SIGHUP, signal.SIG_DFL)    # not the supervisor's SIG_IGN
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _daemonize(pidfile, log):
    r, w = os.pipe()
    if os.fork() > 0:                   # the caller's child: report the daemon's word
        os.close(w)
        word = os.read(r, 16)
        os._exit(0 if word == b"ok" else 1)
    os.close(r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o022)
    null = os.open(os.devnull, os.O_RDWR)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    proc.write_pid(pidfile, os.getpid())
    os.write(w, b"ok")
    os.close(w)


def _rotate(log):
    """Copy and truncate (the child holds the log open with O_APPEND)."""
    try:
        if os.path.getsize(log) > LOG_MAX:
            with open(log, "rb") as src, open(log + ".1", "wb") as dst:
                dst.write(src.read())
            os.truncate(log, 0)
    except OSError:
        pass


def _run(command, childpidfile, cwd, log):
    state = {"stopping": False, "child": None}

    def on_signal(signum, _frame):
        state["stopping"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, lambda _s, _f: _rotate(log))
    signal.setitimer(signal.ITIMER_REAL, LOG_CHECK, LOG_CHECK)
    failures = 0
    while not state["stopping"]:
        started = time.monotonic()
        try:
            child = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        except OSError as e:
            _log(f"cannot run {command[0]}: {e.strerror}")
            child = None
        else:
            state["child"] = child
            if state["stopping"]:
                child.terminate()
            proc.write_pid(childpidfile, child.pid)
            _log(f"started pid {child.pid}: {' '.join(command)}")
            rc = child.wait()           # blocks; SIGALRM checks the log meanwhile
            try:
                os.unlink(childpidfile)
            except FileNotFoundError:
                pass
            if state["stopping"]:
                break
            _log(f"pid {child.pid} exited with status {rc} after "
                 f"{time.monotonic() - started:.1f} s")
        failures = 1 if time.monotonic() - started >= STABLE else failures + 1
        deadline = time.monotonic() + min(MAX_DELAY, MIN_DELAY * 2 ** (failures - 1))
        while not state["stopping"] and time.monotonic() < deadline:
            time.sleep(0.05)
    child = state["child"]
    if child is not None and child.poll() is None:
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    _log("stopped")


def main(argv):
    opts, command = {}, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            command = args
            break
        key, _, value = arg.partition("=")
        opts[key.lstrip("-")] = value
    if not command or not {"pidfile", "childpidfile", "log", "cwd"} <= set(opts):
        sys.stderr.write("usage: supervisor.py --pidfile=P --childpidfile=C --log=L --cwd=D "
                         "-- command...\n")
        return 2
    _daemonize(opts["pidfile"], opts["log"])
    try:
        _run(command, opts["childpidfile"], opts["cwd"], opts["log"])
    finally:
        if proc.read_pid(opts["pidfile"]) == os.getpid():
            os.unlink(opts["pidfile"])
    return 0


# ------------------------------------------------------------ the caller side
def _paths(state_dir):
    return (os.path.join(state_dir, "supervisor.pid"),
            os.path.join(state_dir, "metadata.pid"),
            os.path.join(state_dir, "supervisor.log"))


def running(state_dir):
    """(supervisor pid or None, its child's pid or None)."""
    pidfile, childpidfile, _ = _paths(state_dir)
    pid = proc.alive(pidfile, f"--pidfile={pidfile}")
    if pid is None:
        return None, None
    child = proc.read_pid(childpidfile)
    if child and proc.parent(child) == pid and proc.cmdline(child):
        return pid, child
    return pid, None


def command_of(pid):
    """The command a running supervisor supervises."""
    args = proc.cmdline(pid)
    return args[args.index("--") + 1:] if "--" in args else []


def _runner():
    """How this file runs as a program: by its path, or, inside the zip a remote
    host's agent is (backend.hostops.bundle), through the zip's entry point."""
    script = os.path.abspath(__file__)
    if os.path.isfile(script):
        return [sys.executable, script]
    return [sys.executable, "-I", "-S", __loader__.archive, "supervise"]


def start(state_dir, command, cwd):
    from ...i18n import msg
    from .errors import FlatNetworkError

    pidfile, childpidfile, log = _paths(state_dir)
    argv = [*_runner(), f"--pidfile={pidfile}",
            f"--childpidfile={childpidfile}", f"--log={log}", f"--cwd={cwd}", "--", *command]
    try:
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=30).returncode
    except subprocess.TimeoutExpired:
        raise FlatNetworkError(msg("the metadata supervisor did not start within 30 s")) from None
    pid = proc.alive(pidfile, f"--pidfile={pidfile}")
    if rc != 0 or pid is None:
        raise FlatNetworkError(msg("the metadata supervisor did not start (see {log})", log=log))
    return pid


def stop(state_dir, orphan_command=None):
    """Stop the supervisor (which stops its child); a child left without its
    supervisor is stopped too when it still runs ``orphan_command``."""
    from ...i18n import msg
    from .errors import FlatNetworkError

    pidfile, childpidfile, _ = _paths(state_dir)
    pid = proc.alive(pidfile, f"--pidfile={pidfile}")
    if pid and not proc.stop(pid, f"--pidfile={pidfile}", timeout=8.0):
        raise FlatNetworkError(msg("the metadata supervisor (pid {pid}) does not stop", pid=pid))
    child = proc.read_pid(childpidfile)
    if child and orphan_command:
        def is_orphan(argv):
            return argv[-len(orphan_command):] == list(orphan_command)
        proc.stop(child, is_orphan)
    for path in (pidfile, childpidfile):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
