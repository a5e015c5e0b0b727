"""Event channels: the hypervisor's EVTCHNOP_* with Xen's errors and 2-level
delivery bits, the channels libxl gives every domain at build, and the
commands that show them (evtchn-list, debug-keys e)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pyxl.hv import evtchn
from pyxl.hv.errors import HypercallError
from pyxl.hv.hypervisor import Hypervisor, PhysInfo
from pyxl.hv.model import CpuPool, Domain, Vcpu

SELF = evtchn.DOMID_SELF


def make_hv(domains: int = 3, vcpus: int = 2) -> Hypervisor:
    """Domain-0 and guests 1.. with `vcpus` vCPUs each, no channels."""
    doms = {i: Domain(domid=i, name=f"d{i}", uuid=f"u{i}",
                      vcpus=[Vcpu(domid=i, vcpuid=j) for j in range(vcpus)])
            for i in range(domains)}
    pools = {0: CpuPool(poolid=0, name="Pool-0", sched="credit", cpus=[0, 1])}
    return Hypervisor(PhysInfo(2, 1, 2, 1, 2_000_000, 1 << 24), doms, pools,
                      clock=lambda: 0, domid_rover=domains)


def errno_of(fn, *args) -> str:
    with pytest.raises(HypercallError) as e:
        fn(*args)
    return e.value.errno


def state(hv, domid, port):
    return hv.evtchn_op_status(0, domid, port)


# --- allocation and binding ---

def test_alloc_unbound_takes_the_lowest_port_past_reserved_port_0():
    hv = make_hv()
    assert hv.evtchn_op_alloc_unbound(0, 1, 0) == 1
    assert hv.evtchn_op_alloc_unbound(1, SELF, SELF) == 2
    assert state(hv, 1, 2)["remote_domid"] == 1  # DOMID_SELF is the caller
    assert state(hv, 1, 0)["status"] == "closed"
    hv.evtchn_op_close(1, 1)
    assert hv.evtchn_op_alloc_unbound(0, 1, 0) == 1


def test_alloc_unbound_errors():
    hv = make_hv()
    assert errno_of(hv.evtchn_op_alloc_unbound, 0, 9, 0) == "ESRCH"
    assert errno_of(hv.evtchn_op_alloc_unbound, 1, 2, 0) == "EPERM"  # unprivileged
    assert hv.domains[2].evtchn == {}  # nothing changed
    for _ in range(evtchn.DEFAULT_MAX_EVTCHN_PORT):
        hv.evtchn_op_alloc_unbound(2, SELF, 0)
    assert errno_of(hv.evtchn_op_alloc_unbound, 2, SELF, 0) == "ENOSPC"
    hv.domains[1].dying = True
    assert errno_of(hv.evtchn_op_alloc_unbound, 0, 1, 0) == "EINVAL"


def test_domain0_is_bounded_by_the_abi_alone():
    """xenstored and xenconsoled hold an end of every guest's channels: Domain-0
    has no max_evtchn_port of its own, only the 2-level ABI's 4096 ports."""
    hv = make_hv()
    for _ in range(evtchn.EVTCHN_2L_NR_CHANNELS - 1):
        hv.evtchn_op_alloc_unbound(0, SELF, 1)
    assert errno_of(hv.evtchn_op_alloc_unbound, 0, SELF, 1) == "ENOSPC"


def test_bind_interdomain_joins_both_ends_and_sets_the_new_port_pending():
    hv = make_hv()
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    dport = hv.evtchn_op_bind_interdomain(0, 1, gport)
    assert state(hv, 0, dport) == {
        "port": dport, "status": "interdomain", "vcpu": 0, "remote_domid": 1,
        "remote_port": gport, "pending": True, "masked": False}
    assert state(hv, 1, gport)["remote_port"] == dport
    assert evtchn.vcpu_bits(hv.domains[0], 0) == (1, 1)


def test_bind_interdomain_errors():
    hv = make_hv()
    offered_to_2 = hv.evtchn_op_alloc_unbound(0, 1, 2)
    assert errno_of(hv.evtchn_op_bind_interdomain, 0, 9, 1) == "ESRCH"
    assert errno_of(hv.evtchn_op_bind_interdomain, 0, 1, offered_to_2) == "EINVAL"
    assert errno_of(hv.evtchn_op_bind_interdomain, 0, 1, 5) == "EINVAL"  # free port
    assert errno_of(hv.evtchn_op_bind_interdomain, 0, 1, 5000) == "EINVAL"  # past the ABI
    assert hv.domains[0].evtchn == {}
    assert hv.evtchn_op_bind_interdomain(2, 1, offered_to_2) == 1
    assert errno_of(hv.evtchn_op_bind_interdomain, 2, 1, offered_to_2) == "EINVAL"  # bound


def test_close_puts_the_peer_back_to_unbound_for_the_closer_to_rebind():
    hv = make_hv()
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    dport = hv.evtchn_op_bind_interdomain(0, 1, gport)
    hv.evtchn_op_close(0, dport)
    assert state(hv, 0, dport)["status"] == "closed"
    assert state(hv, 1, gport) == {"port": gport, "status": "unbound", "vcpu": 0,
                                   "remote_domid": 0, "pending": False, "masked": False}
    assert hv.evtchn_op_bind_interdomain(0, 1, gport) == dport
    # the guest closes its end: Domain-0's is offered back to the guest
    hv.evtchn_op_close(1, gport)
    assert state(hv, 0, dport)["status"] == "unbound"
    assert state(hv, 0, dport)["remote_domid"] == 1
    assert errno_of(hv.evtchn_op_close, 1, gport) == "EINVAL"  # free
    assert errno_of(hv.evtchn_op_close, 1, 0) == "EINVAL"  # reserved
    assert errno_of(hv.evtchn_op_close, 1, 99999) == "EINVAL"


def test_bind_virq_rules():
    hv = make_hv()
    assert errno_of(hv.evtchn_op_bind_virq, 1, evtchn.NR_VIRQS, 0) == "EINVAL"
    assert errno_of(hv.evtchn_op_bind_virq, 1, 2, 1) == "EINVAL"  # global VIRQ on vCPU 1
    assert errno_of(hv.evtchn_op_bind_virq, 1, 0, 5) == "ENOENT"  # no such vCPU
    assert errno_of(hv.evtchn_op_bind_virq, 1, 3, 0) == "EBUSY"  # Domain-0 handles DOM_EXC
    assert hv.evtchn_op_bind_virq(0, 3, 0) == 1
    assert hv.evtchn_op_bind_virq(1, 0, 1) == 1  # VIRQ_TIMER is per vCPU
    assert hv.evtchn_op_bind_virq(1, 0, 0) == 2
    assert errno_of(hv.evtchn_op_bind_virq, 1, 0, 1) == "EEXIST"
    assert state(hv, 1, 1) == {"port": 1, "status": "virq", "vcpu": 1, "virq": 0,
                                    "pending": False, "masked": False}
    assert evtchn.send_virq(hv, 1, 0, 1)
    assert evtchn.vcpu_bits(hv.domains[1], 1) == (1, 1)
    assert evtchn.vcpu_bits(hv.domains[1], 0) == (0, 0)


def test_bind_ipi_and_status_errors():
    hv = make_hv()
    assert errno_of(hv.evtchn_op_bind_ipi, 1, 2) == "ENOENT"
    assert hv.evtchn_op_bind_ipi(1, 1) == 1
    assert errno_of(hv.evtchn_op_status, 1, 2, 1) == "EPERM"
    assert errno_of(hv.evtchn_op_status, 0, 9, 1) == "ESRCH"
    assert errno_of(hv.evtchn_op_status, 1, SELF, 4096) == "EINVAL"
    assert errno_of(hv.evtchn_op_status, 1, SELF, 64) == "EINVAL"  # past the first bucket
    assert hv.evtchn_op_status(1, SELF, 63)["status"] == "closed"
    assert hv.evtchn_op_status(1, SELF, 1)["status"] == "ipi"


# --- delivery ---

def test_send_sets_pending_selector_and_upcall_of_the_bound_vcpu():
    hv = make_hv()
    for _ in range(69):  # the guest's port 70 is in the second selector word
        hv.evtchn_op_alloc_unbound(1, SELF, 2)
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    dport = hv.evtchn_op_bind_interdomain(0, 1, gport)
    assert gport == 70
    g = hv.domains[1]
    assert evtchn.vcpu_bits(g, 0) == (0, 0)
    hv.evtchn_op_send(0, dport)
    assert state(hv, 1, gport)["pending"]
    assert evtchn.vcpu_bits(g, 0) == (0b10, 1)
    hv.evtchn_op_send(0, dport)  # coalesces
    assert evtchn.upcall(g, 0) == [gport]
    assert evtchn.vcpu_bits(g, 0) == (0, 0) and not state(hv, 1, gport)["pending"]
    hv.evtchn_op_send(1, gport)  # and back: Domain-0's end
    assert state(hv, 0, dport)["pending"]


def test_masked_port_keeps_pending_only_until_unmasked():
    hv = make_hv()
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    dport = hv.evtchn_op_bind_interdomain(0, 1, gport)
    g = hv.domains[1]
    evtchn.mask(g, gport)
    hv.evtchn_op_send(0, dport)
    assert state(hv, 1, gport)["pending"] and state(hv, 1, gport)["masked"]
    assert evtchn.vcpu_bits(g, 0) == (0, 0)
    hv.evtchn_op_unmask(1, gport)
    assert evtchn.vcpu_bits(g, 0) == (1, 1)
    assert errno_of(hv.evtchn_op_unmask, 1, 4096) == "EINVAL"


def test_send_rules():
    hv = make_hv()
    unbound = hv.evtchn_op_alloc_unbound(1, SELF, 0)
    hv.evtchn_op_send(1, unbound)  # dropped silently
    assert not state(hv, 1, unbound)["pending"]
    ipi = hv.evtchn_op_bind_ipi(1, 1)
    hv.evtchn_op_send(1, ipi)
    assert evtchn.vcpu_bits(hv.domains[1], 1) == (1, 1)
    virq = hv.evtchn_op_bind_virq(1, 0, 0)
    assert errno_of(hv.evtchn_op_send, 1, virq) == "EINVAL"
    assert errno_of(hv.evtchn_op_send, 1, 40) == "EINVAL"  # free
    assert errno_of(hv.evtchn_op_send, 9, 1) == "ESRCH"


def test_destroy_closes_the_domains_ports_and_unbinds_its_peers():
    hv = make_hv()
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    dport = hv.evtchn_op_bind_interdomain(0, 1, gport)
    hv.evtchn_op_bind_ipi(1, 0)
    hv.domctl_destroydomain(1)
    assert state(hv, 0, dport)["status"] == "unbound"
    assert state(hv, 0, dport)["remote_domid"] == 1


def test_trace_names_the_hypercalls():
    hv = make_hv()
    seen = []
    hv.tracer = lambda op, args: seen.append(op)
    gport = hv.evtchn_op_alloc_unbound(0, 1, 0)
    hv.evtchn_op_bind_interdomain(0, 1, gport)
    hv.evtchn_op_send(1, gport)
    hv.evtchn_op_close(1, gport)
    assert seen == ["EVTCHNOP_alloc_unbound", "EVTCHNOP_bind_interdomain",
                    "EVTCHNOP_send", "EVTCHNOP_close"]


# --- through the CLI ---

def _create(pyxl, cfg):
    r = pyxl("create", "-q", cfg)
    assert r.code == 0, r.err


def test_boot_channels_are_the_ports_in_xenstore(pyxl, guest_cfg):
    _create(pyxl, guest_cfg())
    info = json.loads(pyxl("evtchn-list", "--json", "vm1").out)
    store = int(pyxl("xenstore-read", "/local/domain/1/store/port").out)
    console = int(pyxl("xenstore-read", "/local/domain/1/console/port").out)
    by_port = {p["port"]: p for p in info["ports"]}
    assert sorted(by_port) == sorted([store, console])
    dom0 = {p["port"]: p for p in json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"]}
    for port in (store, console):
        p = by_port[port]
        assert p["status"] == "interdomain" and p["remote_domid"] == 0
        peer = dom0[p["remote_port"]]
        assert (peer["status"], peer["remote_domid"], peer["remote_port"]) == \
            ("interdomain", 1, port)
        assert not peer["pending"]  # Domain-0's kernel took the bind's event


def test_create_trace_shows_evtchnop(pyxl, guest_cfg):
    r = pyxl("--trace", "create", "-q", guest_cfg())
    assert "xen: EVTCHNOP_alloc_unbound(dom=1, remote_dom=0, port=1)" in r.err
    assert "xen: EVTCHNOP_bind_interdomain(domid=0, remote_dom=1, remote_port=1" in r.err


def test_evtchn_list_text_and_errors(pyxl, guest_cfg):
    _create(pyxl, guest_cfg())
    out = pyxl("evtchn-list", "vm1").out
    assert out.splitlines()[0] == "Event channels of vm1 (1), 2-level ABI"
    assert "   1 interdomain    0       0      0  dom 0 port 1" in out
    assert "   1 0x0000000000000000 0" in out
    r = pyxl("evtchn-list", "nosuch")
    assert (r.code, r.err) == (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    r = pyxl("evtchn-list", "7")
    assert (r.code, r.err) == (1, "Domain 7 does not exist.\n")
    assert pyxl("evtchn-list").code == 2


def test_destroy_leaves_no_channel_behind(pyxl, guest_cfg, state_dir):
    _create(pyxl, guest_cfg())
    _create(pyxl, guest_cfg(name="vm2"))
    assert pyxl("destroy", "vm1").code == 0
    ports = json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"]
    assert [p["remote_domid"] for p in ports] == [2, 2]
    assert pyxl("destroy", "vm2").code == 0
    assert json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"] == []
    conn = sqlite3.connect(next(state_dir.rglob("*.db")))
    (data,) = conn.execute("SELECT data FROM domains WHERE domid = 0").fetchone()
    assert "evtchn" not in json.loads(data) and "gnttab" not in json.loads(data)


def test_channels_persist_across_commands(pyxl, guest_cfg):
    from pyxl.toolstack import open_libxl

    _create(pyxl, guest_cfg())
    with open_libxl(write=True) as libxl:
        libxl._ctx.hv.evtchn_op_bind_virq(1, 0, 1)
    ports = json.loads(pyxl("evtchn-list", "--json", "vm1").out)["ports"]
    assert ports[-1] == {"port": 3, "status": "virq", "vcpu": 1, "virq": 0,
                              "virq_name": "VIRQ_TIMER", "pending": False, "masked": False}


def test_debug_keys_e_dumps_into_dmesg(pyxl, guest_cfg):
    _create(pyxl, guest_cfg())
    r = pyxl("debug-keys", "e")
    assert (r.code, r.out, r.err) == (0, "", "")
    dmesg = pyxl("dmesg").out
    tail = dmesg[dmesg.index("(XEN) 'e' pressed"):].splitlines()
    assert tail == [
        "(XEN) 'e' pressed -> dumping event-channel info",
        "(XEN) Event channel information for domain 0:",
        "(XEN) Polling vCPUs: {}",
        "(XEN)     port [p/m/s]",
        "(XEN)        1 [0/0/0]: s=3 n=0 x=0 d=1 p=1",
        "(XEN)        2 [0/0/0]: s=3 n=0 x=0 d=1 p=2",
        "(XEN) Event channel information for domain 1:",
        "(XEN) Polling vCPUs: {}",
        "(XEN)     port [p/m/s]",
        "(XEN)        1 [0/0/0]: s=3 n=0 x=0 d=0 p=1",
        "(XEN)        2 [0/0/0]: s=3 n=0 x=0 d=0 p=2",
    ]
    assert pyxl("debug-keys").code == 2


def test_debug_keys_h_q_r_dump_into_dmesg(pyxl, guest_cfg):
    _create(pyxl, guest_cfg())
    assert pyxl("debug-keys", "hqrZ").code == 0  # Z has no handler: ignored
    dmesg = pyxl("dmesg").out
    tail = dmesg[dmesg.index("(XEN) 'h' pressed"):].splitlines()
    assert tail[:6] == [
        "(XEN) 'h' pressed -> showing installed handlers",
        "(XEN)  key 'e' (ascii '65') => dump evtchn info",
        "(XEN)  key 'g' (ascii '67') => print grant table usage",
        "(XEN)  key 'h' (ascii '68') => show this message",
        "(XEN)  key 'q' (ascii '71') => dump domain (and guest debug) info",
        "(XEN)  key 'r' (ascii '72') => dump run queues",
    ]
    assert tail[6].startswith("(XEN) 'q' pressed -> dumping domain info (now = ")
    assert "(XEN) General information for domain 1:" in tail
    assert "(XEN)     VCPU1: CPU" in "\n".join(tail)
    assert "(XEN) Notifying guest 1:1 (virq 1, port 0)" in tail
    runq = tail[tail.index("(XEN) sched_smt_power_savings: disabled"):]
    assert runq[2:7] == ["(XEN) Online Cpus: 0-7", "(XEN) Cpupool 0:", "(XEN) Cpus: 0-7",
                         "(XEN) Scheduling granularity: cpu, 1 CPU per sched-resource",
                         "(XEN) Scheduler: SMP Credit Scheduler (credit)"]
    assert runq[7] == "(XEN) CPUs info:" and len(runq) == 16
