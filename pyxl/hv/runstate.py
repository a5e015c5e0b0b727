"""A vCPU's runstates, as in xen/include/public/vcpu.h (RUNSTATE_running = 0 ...).

Kept apart from the model's classes so that a reader of stored rows
(pyxl/hv/steady.py, `pyxl list` at a thousand domains) need not import them.
"""

RUNNING = "running"
RUNNABLE = "runnable"
BLOCKED = "blocked"
OFFLINE = "offline"
RUNSTATES = (RUNNING, RUNNABLE, BLOCKED, OFFLINE)
