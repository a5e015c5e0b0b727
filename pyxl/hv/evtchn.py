"""Event channels, 2-level ABI (xen/common/event_channel.c, event_2l.c).

A domain's ports live in `Domain.evtchn`, only those in use, keyed by the
port number as text (the row is JSON): each is
`[state, notify_vcpu, a, b, bits]` where (a, b) is the remote (domid, port)
of an interdomain port, (remote_domid, 0) of an unbound one, (virq, 0) or
(pirq, 0); `bits` holds the port's pending (1) and mask (2) bits of
shared_info's evtchn_pending/evtchn_mask. A free port has neither bit, as
Xen clears pending on free and a Linux guest masks a port it closes. Port 0
is reserved from creation and never stored. Each vCPU's
`evtchn_pending_sel` and `evtchn_upcall_pending` are in
`Domain.evtchn_upcall` (vCPU id as text -> [sel, upcall]) while non-zero.

The functions take the hypervisor (for other domains, tracing) and the
calling domain, as Xen's `current->domain`; they raise HypercallError with
Xen's errno.
"""

from __future__ import annotations

from pyxl.hv.errors import HypercallError
from pyxl.hv.model import DOMID_FIRST_RESERVED, Domain

DOMID_SELF = DOMID_FIRST_RESERVED
# EVTCHN_2L_NR_CHANNELS on x86_64: 64 selector bits x 64-bit words.
EVTCHN_2L_NR_CHANNELS = 4096
BITS_PER_WORD = 64
EVTCHNS_PER_BUCKET = 64  # a page of 64-byte struct evtchn
# xl.cfg max_event_channels' default: ports 1..1023.
DEFAULT_MAX_EVTCHN_PORT = 1023

UNBOUND, INTERDOMAIN, PIRQ, VIRQ, IPI = "unbound", "interdomain", "pirq", "virq", "ipi"
# Xen's internal state numbers (ECS_*), as `debug-keys e` prints them (s=).
ECS = {"free": 0, "reserved": 1, UNBOUND: 2, INTERDOMAIN: 3, PIRQ: 4, VIRQ: 5, IPI: 6}
# EVTCHNSTAT_*, what EVTCHNOP_status answers.
EVTCHNSTAT = {"closed": 0, UNBOUND: 1, INTERDOMAIN: 2, PIRQ: 3, VIRQ: 4, IPI: 5}

PENDING, MASKED = 1, 2

# VIRQs (xen.h): per-vCPU (V), global (G, one domain binds it: Domain-0) or per-domain (D).
VIRQ_TYPES = {0: "V", 1: "V", 2: "G", 3: "G", 4: "G", 6: "G", 7: "V", 8: "G", 9: "G",
              10: "G", 11: "D", 12: "G", 13: "V", 16: "G"}
NR_VIRQS = 24
VIRQ_NAMES = {0: "VIRQ_TIMER", 1: "VIRQ_DEBUG", 2: "VIRQ_CONSOLE", 3: "VIRQ_DOM_EXC",
              4: "VIRQ_TBUF", 6: "VIRQ_DEBUGGER", 7: "VIRQ_XENOPROF", 8: "VIRQ_CON_RING",
              9: "VIRQ_PCPU_STATE", 10: "VIRQ_MEM_EVENT", 11: "VIRQ_ARGO", 12: "VIRQ_ENOMEM",
              13: "VIRQ_XENPMU", 16: "VIRQ_MCA"}
# The domain Xen hands global VIRQs to (the hardware domain).
GLOBAL_VIRQ_HANDLER = 0


def ports(d: Domain) -> list[tuple[int, list]]:
    """The ports in use, in order."""
    return sorted((int(p), e) for p, e in d.evtchn.items())


def _entry(d: Domain, port: int) -> list | None:
    return d.evtchn.get(str(port))


def _port_valid(d: Domain, port: int) -> bool:
    """Xen's port_is_valid: below valid_evtchns, which grows a bucket of
    EVTCHNS_PER_BUCKET ports at a time (counted here from the ports in use)."""
    top = max((int(p) for p in d.evtchn), default=0)
    valid = min((top // EVTCHNS_PER_BUCKET + 1) * EVTCHNS_PER_BUCKET, EVTCHN_2L_NR_CHANNELS)
    return 0 <= port < valid


def max_evtchn_port(d: Domain) -> int:
    """The domain's highest port (createdomain's max_evtchn_port), within
    what the 2-level ABI can signal."""
    limit = d.max_evtchn_port
    return DEFAULT_MAX_EVTCHN_PORT if limit is None else min(limit, EVTCHN_2L_NR_CHANNELS - 1)


def _get_free_port(hv, d: Domain, op: str) -> int:
    """The lowest free port (port 0 stays reserved); ENOSPC past the limit."""
    if d.dying:
        raise HypercallError("EINVAL", op)
    # Domain-0 is built with no max_evtchn_port of its own (create_dom0):
    # only the ABI bounds it, and it holds xenstored's and xenconsoled's
    # end of every guest's channels
    limit = EVTCHN_2L_NR_CHANNELS - 1 if d.domid == 0 else max_evtchn_port(d)
    for port in range(1, limit + 1):
        if str(port) not in d.evtchn:
            return port
    raise HypercallError("ENOSPC", op)


def _resolve(caller: int, dom: int) -> int:
    return caller if dom == DOMID_SELF else dom


def _domain(hv, domid: int, op: str) -> Domain:
    d = hv.domains.get(domid)
    if d is None:
        raise HypercallError("ESRCH", op)
    return d


def _vcpu_exists(d: Domain, vcpu: int) -> bool:
    return 0 <= vcpu < len(d.vcpus)


# --- delivery (event_2l.c) ---

def set_pending(d: Domain, port: int) -> None:
    """Raise an event on `port`: pending, then the selector and upcall of
    its vCPU unless the port is masked; an event already pending coalesces."""
    e = d.evtchn[str(port)]
    if e[4] & PENDING:
        return
    e[4] |= PENDING
    if not e[4] & MASKED:
        _mark_selector(d, e[1], port)


def _mark_selector(d: Domain, vcpu: int, port: int) -> None:
    key = str(vcpu)
    sel, upcall = d.evtchn_upcall.get(key, (0, 0))
    bit = 1 << (port // BITS_PER_WORD)
    if sel & bit:
        return
    d.evtchn_upcall[key] = [sel | bit, 1]


def unmask(hv, caller: int, port: int) -> None:
    """EVTCHNOP_unmask: clear the mask; a pending event raises the upcall now."""
    op = "EVTCHNOP_unmask"
    d = _domain(hv, caller, op)
    if not _port_valid(d, port):
        raise HypercallError("EINVAL", op)
    e = _entry(d, port)
    if e is not None:
        e[4] &= ~MASKED
        if e[4] & PENDING:
            _mark_selector(d, e[1], port)
    hv.trace(op, domid=caller, port=port)


def mask(d: Domain, port: int) -> None:
    """The guest sets the port's bit in shared_info's evtchn_mask (no hypercall)."""
    e = _entry(d, port)
    if e is not None:
        e[4] |= MASKED


def upcall(d: Domain, vcpu: int) -> list[int]:
    """The guest's upcall handler on `vcpu`: clear evtchn_upcall_pending, take
    the selector, and clear each pending unmasked port it points at (handled)."""
    sel, _ = d.evtchn_upcall.pop(str(vcpu), (0, 0))
    handled = []
    for port, e in ports(d):
        if sel >> (port // BITS_PER_WORD) & 1 and e[4] & PENDING and not e[4] & MASKED:
            e[4] &= ~PENDING
            handled.append(port)
    return handled


def vcpu_bits(d: Domain, vcpu: int) -> tuple[int, int]:
    """(evtchn_pending_sel, evtchn_upcall_pending) of one vCPU's vcpu_info."""
    sel, up = d.evtchn_upcall.get(str(vcpu), (0, 0))
    return sel, up


# --- EVTCHNOP_* ---

def alloc_unbound(hv, caller: int, dom: int, remote_dom: int) -> int:
    """EVTCHNOP_alloc_unbound: a port in `dom` that `remote_dom` may bind.
    Only a privileged caller allocates in another domain (EPERM)."""
    op = "EVTCHNOP_alloc_unbound"
    domid = _resolve(caller, dom)
    d = _domain(hv, domid, op)
    port = _get_free_port(hv, d, op)
    if domid != caller and caller != 0:
        raise HypercallError("EPERM", op)
    remote = _resolve(caller, remote_dom)
    d.evtchn[str(port)] = [UNBOUND, 0, remote, 0, 0]
    hv.trace(op, dom=domid, remote_dom=remote, port=port)
    return port


def bind_interdomain(hv, caller: int, remote_dom: int, remote_port: int) -> int:
    """EVTCHNOP_bind_interdomain: the remote port must be unbound and offered
    to the caller (EINVAL); both ends become interdomain and the new local
    port is set pending, for notifications lost while it was unbound."""
    op = "EVTCHNOP_bind_interdomain"
    rdomid = _resolve(caller, remote_dom)
    rd = _domain(hv, rdomid, op)
    ld = _domain(hv, caller, op)
    lport = _get_free_port(hv, ld, op)
    re = _entry(rd, remote_port) if _port_valid(rd, remote_port) else None
    if re is None or re[0] != UNBOUND or re[2] != caller:
        raise HypercallError("EINVAL", op)
    ld.evtchn[str(lport)] = [INTERDOMAIN, 0, rdomid, remote_port, 0]
    re[0], re[2], re[3] = INTERDOMAIN, caller, lport
    set_pending(ld, lport)
    hv.trace(op, domid=caller, remote_dom=rdomid, remote_port=remote_port, port=lport)
    return lport


def bind_virq(hv, caller: int, virq: int, vcpu: int) -> int:
    """EVTCHNOP_bind_virq: EINVAL for no such VIRQ or a non-per-vCPU one on
    a vCPU other than 0; ENOENT for no such vCPU; EBUSY for a global VIRQ
    another domain handles; EEXIST if already bound on that vCPU."""
    op = "EVTCHNOP_bind_virq"
    d = _domain(hv, caller, op)
    if not 0 <= virq < NR_VIRQS:
        raise HypercallError("EINVAL", op)
    kind = VIRQ_TYPES.get(virq, "D")
    if kind != "V" and vcpu != 0:
        raise HypercallError("EINVAL", op)
    if not _vcpu_exists(d, vcpu):
        raise HypercallError("ENOENT", op)
    if kind == "G" and caller != GLOBAL_VIRQ_HANDLER:
        raise HypercallError("EBUSY", op)
    if any(e[0] == VIRQ and e[2] == virq and e[1] == vcpu for e in d.evtchn.values()):
        raise HypercallError("EEXIST", op)
    port = _get_free_port(hv, d, op)
    d.evtchn[str(port)] = [VIRQ, vcpu, virq, 0, 0]
    hv.trace(op, domid=caller, virq=virq, vcpu=vcpu, port=port)
    return port


def bind_ipi(hv, caller: int, vcpu: int) -> int:
    """EVTCHNOP_bind_ipi: a port that notifies `vcpu` of the caller (ENOENT if none)."""
    op = "EVTCHNOP_bind_ipi"
    d = _domain(hv, caller, op)
    if not _vcpu_exists(d, vcpu):
        raise HypercallError("ENOENT", op)
    port = _get_free_port(hv, d, op)
    d.evtchn[str(port)] = [IPI, vcpu, 0, 0, 0]
    hv.trace(op, domid=caller, vcpu=vcpu, port=port)
    return port


def send_virq(hv, domid: int, virq: int, vcpu: int = 0) -> bool:
    """Xen raises a VIRQ (send_guest_vcpu_virq/send_global_virq): on the port
    bound to it, if any; whether one was."""
    d = hv.domains.get(domid)
    for port, e in ports(d) if d is not None else []:
        if e[0] == VIRQ and e[2] == virq and e[1] == vcpu:
            set_pending(d, port)
            return True
    return False


def send(hv, caller: int, port: int) -> None:
    """EVTCHNOP_send: interdomain raises the remote end, IPI the local one,
    unbound drops it silently; anything else is EINVAL."""
    op = "EVTCHNOP_send"
    d = _domain(hv, caller, op)
    e = _entry(d, port) if _port_valid(d, port) else None
    if e is None or e[0] not in (INTERDOMAIN, IPI, UNBOUND):
        raise HypercallError("EINVAL", op)
    if e[0] == INTERDOMAIN:
        set_pending(hv.domain(e[2]), e[3])
    elif e[0] == IPI:
        set_pending(d, port)
    hv.trace(op, domid=caller, port=port)


def close(hv, caller: int, port: int) -> None:
    """EVTCHNOP_close: free the port; an interdomain peer goes back to
    unbound, offered to the closer again. A free or reserved port is EINVAL."""
    op = "EVTCHNOP_close"
    d = _domain(hv, caller, op)
    _close(hv, d, port, op)
    hv.trace(op, domid=caller, port=port)


def _close(hv, d: Domain, port: int, op: str) -> None:
    e = _entry(d, port) if _port_valid(d, port) else None
    if e is None:
        raise HypercallError("EINVAL", op)
    if e[0] == INTERDOMAIN:
        peer = hv.domains.get(e[2])
        pe = _entry(peer, e[3]) if peer is not None else None
        if pe is not None:
            pe[0], pe[2], pe[3] = UNBOUND, d.domid, 0
    del d.evtchn[str(port)]


def status(hv, caller: int, dom: int, port: int) -> dict:
    """EVTCHNOP_status: ESRCH for no such domain, EINVAL for a port past its
    buckets, then EPERM for another domain's port unless privileged."""
    op = "EVTCHNOP_status"
    domid = _resolve(caller, dom)
    d = _domain(hv, domid, op)
    if not _port_valid(d, port):
        raise HypercallError("EINVAL", op)
    if domid != caller and caller != 0:
        raise HypercallError("EPERM", op)
    return port_status(d, port)


def port_status(d: Domain, port: int) -> dict:
    """One port as EVTCHNOP_status describes it, with its delivery bits."""
    e = _entry(d, port)
    if e is None:
        return {"port": port, "status": "closed", "vcpu": 0}
    state, vcpu, a, b, bits = e
    info = {"port": port, "status": state, "vcpu": vcpu}
    if state == UNBOUND:
        info["remote_domid"] = a
    elif state == INTERDOMAIN:
        info["remote_domid"], info["remote_port"] = a, b
    elif state == VIRQ:
        info["virq"] = a
    elif state == PIRQ:
        info["pirq"] = a
    info["pending"] = bool(bits & PENDING)
    info["masked"] = bool(bits & MASKED)
    return info


def destroy(hv, d: Domain) -> None:
    """evtchn_destroy at domain_kill: close every port; interdomain peers
    become unbound, offered to the dead domain's id, as in Xen."""
    for port, _ in ports(d):
        _close(hv, d, port, "evtchn_destroy")
    d.evtchn_upcall.clear()


def dump(d: Domain) -> list[str]:
    """domain_dump_evtchn_info: what `debug-keys e` prints for one domain."""
    lines = [f"Event channel information for domain {d.domid}:",
             "Polling vCPUs: {}",
             "    port [p/m/s]"]
    for port, (state, vcpu, a, b, bits) in ports(d):
        sel = vcpu_bits(d, vcpu)[0] >> (port // BITS_PER_WORD) & 1
        line = (f"    {port:4d} [{bits & PENDING:d}/{(bits & MASKED) >> 1:d}/{sel:d}]: "
                f"s={ECS[state]} n={vcpu} x=0")
        if state == UNBOUND:
            line += f" d={a}"
        elif state == INTERDOMAIN:
            line += f" d={a} p={b}"
        elif state == PIRQ:
            line += f" p={a} i={a}"
        elif state == VIRQ:
            line += f" v={a}"
        lines.append(line)
    return lines
