"""VmTransitionVO: which process moved a VM into a transitional state (Starting,
Stopping, Rebooting, Destroying), so that one killed on the way (kill -9, a
crash) does not leave the VM there for good: the next operation on the VM
finds its owner gone and gives the VM the state its hypervisor shows
(services/vm_state.py). A process is its pid and its start time (the pid alone
may be reused)."""


def up(db):
    db["VmTransitionVO"].create({"vmUuid": str, "pid": int, "started": str,
                                 "createDate": str}, pk="vmUuid", not_null={"pid"})
