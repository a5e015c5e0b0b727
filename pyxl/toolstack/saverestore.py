"""Suspending a domain into a stream and building one from it: libxl's
halves of xl save, restore and migrate (libxl_dom_suspend.c,
libxl_stream_write.c and libxl_stream_read.c, with libxc's save and restore
inside), over pyxl/toolstack/stream.py's encoding.

Suspend is the PV control protocol with "suspend": the guest acknowledges,
freezes and makes SCHEDOP_shutdown(suspend), which shows as `---ss-`. The
image then written is a libxl stream v2: its header, a LIBXC_CONTEXT
record and libxc's stream (the domain's pfns as PAGE_DATA records, the
pages whose contents the simulation keeps with their data and the rest as
XALLOC, then TSC_INFO, SHARED_INFO and the vCPUs), an EMULATOR_XENSTORE_DATA
record with the guest's own XenStore subtree, an EMULATOR_CONTEXT record
with the simulated guest (emulator id "pyxl", JSON: its OS state, workload,
runstate times, scheduler parameters, console, xl's monitor), and END.

Restore reads and checks the whole stream before anything is built, so a
bad one changes nothing; then libxl_domain_create_restore: the domain is
created from the config as `create` does, paused, and takes the image's
state; the guest resumes (pyxl/sim/guest.py `restored`) and its frontends
reconnect through the XenbusState handshake. docs/migration.md tells the
record layout.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from pyxl.errors import ERROR_FAIL, ErrorFail, LibxlError, PyxlError
from pyxl.toolstack import stream as st
from pyxl.toolstack.ctx import LEVELS, Ctx

ERROR_GUEST_TIMEDOUT = -8
SUSPEND_TIMEOUT_NS = 60 * 1_000_000_000
PYXL_RECORD_VERSION = 1
VCPU_CONTEXT_SIZE = 5168          # sizeof(vcpu_guest_context_x86_64_t)
VGCF_IN_KERNEL, VGCF_ONLINE = 1 << 2, 1 << 5
HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN = 0, 1, 2
HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN = 17, 18
PAGE_SIZE = 4096


def xc_info(ctx: Ctx, message: str, level: str = "info") -> None:
    """A libxc IPRINTF (or ERROR) line: "xc: info: ...", with no source
    location, as libxc reports through xtl."""
    if ctx.logger is not None and LEVELS[level] >= ctx.min_level:
        ctx.logger(f"xc: {level}: {message}")


# --- suspend ------------------------------------------------------------------


def suspend_request(ctx: Ctx, domid: int) -> None:
    """libxl__domain_suspend's request: "suspend" in control/shutdown, or
    for an HVM guest without PV drivers, XEN_DOMCTL_shutdown(suspend)."""
    from pyxl.hv.model import SHUTDOWN_SUSPEND
    from pyxl.toolstack import lifecycle

    d = ctx.hv.domains.get(domid)
    if d is None:
        lifecycle.domain_type(ctx, domid)  # logs and raises
    if d.shutdown:
        if d.shutdown_reason == SHUTDOWN_SUSPEND:
            return
        ctx.log("error", "libxl_dom_suspend.c:341:suspend_common_wait_guest_check",
                "guest we were suspending has shut down with unexpected reason code "
                f"{d.shutdown_reason}", domid)
        raise ErrorFail
    if lifecycle.pvcontrol_available(ctx, domid):
        lifecycle.pvcontrol_request(ctx, domid, "suspend")
        return
    from pyxl.sim import guest as guestos

    guestos.guest_shutdown(ctx.host, d, ctx.host.guest(domid), SHUTDOWN_SUSPEND)


def suspend_state(ctx: Ctx, domid: int) -> int | None:
    """None while the guest is still suspending; 0 once it has, else an rc."""
    from pyxl.hv.model import SHUTDOWN_SUSPEND

    d = ctx.hv.domains.get(domid)
    if d is None or d.dying:
        ctx.log("error", "libxl_dom_suspend.c:330:suspend_common_wait_guest_check",
                "guest we were suspending has been destroyed", domid,
                errno="No such process")
        return ERROR_FAIL
    if not d.shutdown:
        return None
    if d.shutdown_reason != SHUTDOWN_SUSPEND:
        return ERROR_FAIL
    return 0


def suspend_timed_out(ctx: Ctx, domid: int) -> int:
    """The guest did not acknowledge (the request is taken back) or did not
    suspend within libxl's 60 s: ERROR_GUEST_TIMEDOUT."""
    from pyxl.xenstore.errors import XenStoreError

    path = f"/local/domain/{domid}/control/shutdown"
    try:
        pending = ctx.xs().read(path) == b"suspend"
        if pending:
            ctx.xs().write(path, b"")
    except XenStoreError:
        pending = False
    if pending:
        ctx.log("error", "libxl_dom_suspend.c:262:domain_suspend_common_pvcontrol_suspending",
                "guest didn't acknowledge suspend, cancelling request", domid)
    else:
        ctx.log("error", "libxl_dom_suspend.c:360:suspend_common_wait_guest_timeout",
                "guest did not suspend, timed out", domid)
    return ERROR_GUEST_TIMEDOUT


def domain_resume(ctx: Ctx, domid: int, suspend_cancel: bool = True) -> None:
    """libxl_domain_resume: XEN_DOMCTL_resumedomain (SCHEDOP_shutdown returns
    1 to the guest: a cancelled suspend), then XS_RESUME to xenstored.
    pyxl's guests always take the cooperative resume, whatever
    `suspend_cancel` says."""
    from pyxl.hv.hypervisor import HypercallError
    from pyxl.hv.model import SHUTDOWN_SUSPEND
    from pyxl.sim import guest as guestos
    from pyxl.toolstack import lifecycle

    lifecycle.domain_type(ctx, domid)
    d = ctx.hv.domains[domid]
    try:
        if not (d.shutdown and d.shutdown_reason == SHUTDOWN_SUSPEND):
            # xc_domain_resume's modify_returncode
            reason = d.shutdown_reason if d.shutdown else 0
            xc_info(ctx, f"Dom {domid} not suspended: (shutdown {4 if d.shutdown else 0}, "
                    f"reason {reason}): Internal error", "error")
            raise HypercallError("EINVAL")
        ctx.hv.domctl_resumedomain(domid)
    except HypercallError as e:
        ctx.log("error", "libxl_dom_suspend.c:596:domain_resume_done",
                "xc_domain_resume failed", domid, e.strerror)
        raise ErrorFail from None
    ctx.xs().resume(domid)
    guestos.suspend_cancelled(ctx.host, d, ctx.host.guest(domid), ctx.host.now_ns)


# --- the image ---------------------------------------------------------------------


def config_for_save(ctx: Ctx, domid: int, preserve_domid: bool = False):
    """libxl_retrieve_domain_configuration as xl save embeds it: the typed
    config as it is now (name, uuid, vCPUs, memory) for pyxl's record, and
    libxl's JSON exactly as `xl list -l` shows it, with c_info.domid only
    for -D; None when libxl has no config."""
    from pyxl.toolstack.libxl_json import render
    from pyxl.toolstack.retrieve import list_long_json, retrieve

    got = retrieve(ctx, domid)
    if got is None:
        return None
    config, runtime = got
    config.name, config.uuid = runtime["name"], runtime["uuid"]
    config.avail_vcpus = list(runtime["avail_vcpus"])
    entries = json.loads(list_long_json(ctx, [domid]))
    obj = entries[0]["config"] if entries else {}
    if preserve_domid:
        obj["c_info"] = {"domid": domid, **obj.get("c_info", {})}
    return config, render(obj).encode("utf-8", "surrogateescape")


def libxl_json(config, runtime: dict | None = None, domid: int | None = None) -> bytes:
    """The config as libxl's JSON (what `xl list -l` shows for it), with
    c_info.domid when the domid is to be kept."""
    from pyxl.toolstack.libxl_json import domain_config_json_obj, render

    obj = domain_config_json_obj(config, runtime)
    if domid:
        obj["c_info"] = {"domid": domid, **obj["c_info"]}
    return render(obj).encode("utf-8", "surrogateescape")


def write_image(ctx: Ctx, domid: int, out, config, override: bool = False) -> int:
    """libxl_stream_write: the suspended domain's stream into `out` (a
    binary file); returns the number of octets written. With `override`
    the config is one the user gave (save's CONFIG, migrate -C), which
    replaces the config libxl keeps for the domain."""
    d = ctx.hv.domains[domid]
    parts = stream_head(ctx, d)
    parts += st.page_data_records(p2m_runs(d), kept_pages(ctx, d))
    parts += stream_tail(ctx, d, config, override)
    return write_parts(out, parts)


def write_parts(out, parts: list[bytes]) -> int:
    """Write stream pieces into `out`, flushed; the octets written."""
    n = 0
    for part in parts:
        out.write(part)
        n += len(part)
    out.flush()
    return n


def stream_head(ctx: Ctx, d) -> list[bytes]:
    """What goes before the memory: libxl's header, LIBXC_CONTEXT, and
    libxc's headers and static data (xg_sr_save.c's save() up to the first
    checkpoint)."""
    from pyxl.toolstack.info import XEN_MAJOR, XEN_MINOR

    hvm = d.type != "pv"
    xc_info(ctx, f"Saving domain {d.domid}, type x86 {'HVM' if hvm else 'PV'}")
    out = [st.libxl_header(), st.record(st.REC_LIBXC_CONTEXT, b""),
           st.xc_headers(hvm, XEN_MAJOR, XEN_MINOR)]
    layout = _layout(d)
    if not hvm:
        out.append(st.record(st.XC_X86_PV_INFO, struct.pack("<BBHI", 8, 4, 0, 0)))
    out.append(st.record(st.XC_STATIC_DATA_END, b""))
    runs = p2m_runs(d)
    nr_pfns = max((pfn + count for pfn, count in runs), default=0)
    if layout is not None:
        p2m = layout.seg("phys2mach")
        frames = (nr_pfns * 8 + PAGE_SIZE - 1) // PAGE_SIZE
        body = struct.pack("<II", 0, max(nr_pfns - 1, 0))
        body += struct.pack(f"<{frames}Q", *range(p2m.pfn, p2m.pfn + frames))
        out.append(st.record(st.XC_X86_PV_P2M_FRAMES, body))
    return out


def p2m_runs(d) -> list[list[int]]:
    """The domain's pfns as ascending [pfn, count] runs."""
    return sorted([pfn, count] for pfn, _mfn, count in d.p2m)


def _layout(d):
    if d.type != "pv":
        return None
    from pyxl.toolstack import pvbuild

    return pvbuild.layout_of(d)


def stream_tail(ctx: Ctx, d, config, override: bool = False,
                precopy: dict | None = None) -> list[bytes]:
    """What follows the memory: the rest of libxc's stream (the state
    written at the end of a checkpoint, END), then libxl's XenStore and
    pyxl records and END. `precopy`: a live migration's figures, which the
    receiver's clock follows."""
    parts = _libxc_tail(ctx, d, d.type != "pv")
    pairs, perms = _xenstore_subtree(ctx, d.domid)
    parts.append(st.record(st.REC_EMULATOR_XENSTORE_DATA,
                           struct.pack("<II", st.EMULATOR_PYXL, 0) + st.xenstore_data(pairs)))
    state = _pyxl_state(ctx, d, config, perms)
    if override:
        state["stored_config"] = None
    if precopy is not None:
        state["precopy"] = precopy
    blob = json.dumps(state, separators=(",", ":")).encode("utf-8", "surrogateescape")
    parts.append(st.record(st.REC_EMULATOR_CONTEXT,
                           struct.pack("<II", st.EMULATOR_PYXL, 0) + blob))
    parts.append(st.record(st.REC_END, b""))
    return parts


def _libxc_tail(ctx: Ctx, d, hvm: bool) -> list[bytes]:
    """libxc's end of a checkpoint: TSC, the shared info page or HVM
    context, the vCPUs, then END."""
    out = []
    khz = ctx.host.physinfo.cpu_khz
    out.append(st.record(st.XC_X86_TSC_INFO,
                         struct.pack("<IIQII", 0, khz, ctx.host.now_ns, 0, 0)))
    if hvm:
        out.append(st.record(st.XC_HVM_CONTEXT, b""))
        out.append(st.record(st.XC_HVM_PARAMS, _hvm_params(ctx, d)))
    else:
        out.append(st.record(st.XC_SHARED_INFO, _shared_info_page(ctx, d)))
        for v in d.vcpus:
            if v.online:
                out.append(st.record(st.XC_X86_PV_VCPU_BASIC, _vcpu_basic(v.vcpuid)))
    out.append(st.record(st.XC_END, b""))
    return out


def kept_pages(ctx: Ctx, d) -> dict[int, bytes]:
    """The guest pages whose contents the simulation keeps: a PV guest's
    start_info page, as the builder wrote it."""
    layout = _layout(d)
    if layout is None:
        return {}
    from pyxl.toolstack.pages import start_info

    try:
        return {layout.start_info_pfn: start_info(ctx, str(d.domid))["raw"]}
    except PyxlError:
        return {}


def _shared_info_page(ctx: Ctx, d) -> bytes:
    from pyxl.toolstack.pages import shared_info

    try:
        return shared_info(ctx, str(d.domid))["raw"]
    except PyxlError:
        return bytes(PAGE_SIZE)


def _vcpu_basic(vcpuid: int) -> bytes:
    """X86_PV_VCPU_BASIC: the vCPU's id and its vcpu_guest_context, of which
    the simulation has only the flags (at offset 512, after fpu_ctxt)."""
    ctxt = bytearray(VCPU_CONTEXT_SIZE)
    struct.pack_into("<Q", ctxt, 512, VGCF_IN_KERNEL | VGCF_ONLINE)
    return struct.pack("<II", vcpuid, 0) + bytes(ctxt)


def _hvm_params(ctx: Ctx, d) -> bytes:
    from pyxl.toolstack import pvbuild

    params = [(HVM_PARAM_STORE_PFN, pvbuild.HVM_XENSTORE_PFN),
              (HVM_PARAM_STORE_EVTCHN, _port(ctx, d.domid, "store")),
              (HVM_PARAM_CONSOLE_PFN, pvbuild.HVM_CONSOLE_PFN),
              (HVM_PARAM_CONSOLE_EVTCHN, _port(ctx, d.domid, "console"))]
    if d.hvm_params.get("CALLBACK_IRQ"):
        params.insert(0, (HVM_PARAM_CALLBACK_IRQ, d.hvm_params["CALLBACK_IRQ"]))
    body = struct.pack("<II", len(params), 0)
    for index, value in params:
        body += struct.pack("<QQ", index, value)
    return body


def _xenstore_subtree(ctx: Ctx, domid: int) -> tuple[list[tuple[str, bytes]], dict]:
    """The guest's home in XenStore, keys relative to it, with each node's
    permissions (owner first, as xenstore-ls -p shows them)."""
    from pyxl.xenstore.errors import XenStoreError

    home = f"/local/domain/{domid}"
    try:
        entries = ctx.xs().walk(home)
    except XenStoreError:
        return [], {}
    pairs, perms = [], {}
    for e in entries:
        if e.value is None:
            continue
        rel = e.path[len(home) + 1:]
        pairs.append((rel, e.value))
        perms[rel] = [[p.domid, p.letter] for p in e.perms or ()]
    return pairs, perms


def _pyxl_state(ctx: Ctx, d, config, perms: dict) -> dict:
    """The simulation's own record of the domain (EMULATOR_CONTEXT "pyxl")."""
    from pyxl.sim.rows import domain_data, guest_json, vcpu_data

    host = ctx.host
    now = host.now_ns
    domid = d.domid
    pool = ctx.hv.pools.get(d.poolid)
    try:
        start = ctx.xs().read(f"/vm/{d.uuid}/start_time").decode("latin-1")
    except PyxlError:
        start = None
    console = [[t - now, line] for t, line in host.conn.execute(
        "SELECT t_ns, line FROM console WHERE domid = ? ORDER BY seq", (domid,))]
    return {
        "version": PYXL_RECORD_VERSION,
        "domid": domid,
        "config": config.to_json_dict(),
        "stored_config": host.config(domid),
        "saved_ns": now,
        "sched": pool.sched if pool else None,
        "domain": json.loads(domain_data(d)),
        "vcpus": [json.loads(vcpu_data(v)) for v in d.vcpus],
        "guest": json.loads(guest_json(host.guest(domid))),
        "console": console,
        "monitor": {"active": host.monitored(domid), "log": host.monitor_log(domid)},
        "start_time": start,
        "xenstore_perms": perms,
    }


# --- reading an image ----------------------------------------------------------------


@dataclass(repr=False, eq=False)
class Image:
    """What a restore takes from a stream, all of it checked."""

    dtype: int = 0
    xen: tuple[int, int] = (0, 0)
    pfns: int = 0
    pages: dict[int, bytes] = field(default_factory=dict)
    xenstore: list[tuple[str, bytes]] = field(default_factory=list)
    state: dict | None = None


def read_image(f) -> Image:
    """libxl_stream_read over `f` up to the END record, and libxc's stream
    inside; StreamError (libxl's or libxc's words) for anything wrong."""
    r = st.Reader(f)
    st.read_libxl_header(r)
    img = Image()
    seen_libxc = False
    while True:
        rtype, body = st.read_libxl_record(r)
        if rtype == st.REC_END:
            break
        if rtype == st.REC_LIBXC_CONTEXT:
            if seen_libxc:
                raise st.StreamError("libxl_stream_read.c:646:process_record",
                                     "Unrecognised record 0x00000001")
            seen_libxc = True
            _read_libxc(r, img)
        elif rtype in (st.REC_EMULATOR_XENSTORE_DATA, st.REC_EMULATOR_CONTEXT):
            _read_emulator(rtype, body, img)
        elif rtype != st.REC_CHECKPOINT_END:
            raise st.StreamError("libxl_stream_read.c:646:process_record",
                                 f"Unrecognised record 0x{rtype:08x}")
    if not seen_libxc or img.state is None:
        raise st.StreamError("libxl_stream_read.c:761:stream_complete",
                             "Stream ended before the domain's state (no libxc or pyxl record)")
    return img


def _read_libxc(r: st.Reader, img: Image) -> None:
    img.dtype, major, minor = st.read_xc_headers(r)
    img.xen = (major, minor)
    static_end = False
    while True:
        rtype, body = st.read_xc_record(r)
        if rtype == st.XC_END:
            return
        if rtype == st.XC_STATIC_DATA_END:
            static_end = True
        elif rtype == st.XC_PAGE_DATA:
            if not static_end:
                raise st.StreamError("xg_sr_restore.c:391:handle_page_data",
                                     "No STATIC_DATA_END seen", "xc")
            pfns, pages = st.parse_page_data(body, st.PFN_MASK)
            img.pfns += pfns
            img.pages.update(pages)
        elif rtype not in st.XC_REC_NAMES and not rtype & st.XC_REC_OPTIONAL:
            raise st.StreamError("xg_sr_restore.c:848:restore",
                                 f"Mandatory record 0x{rtype:x} (unknown) not handled", "xc")


def _read_emulator(rtype: int, body: bytes, img: Image) -> None:
    if len(body) < 8:
        raise st.StreamError("libxl_stream_read.c:586:process_record",
                             f"Emulator record too short: {len(body)} octets")
    emulator, _index = struct.unpack_from("<II", body)
    if emulator != st.EMULATOR_PYXL:
        return  # a device model's state: pyxl's guests have none
    if rtype == st.REC_EMULATOR_XENSTORE_DATA:
        img.xenstore = st.parse_xenstore_data(body[8:])
        return
    try:
        state = json.loads(body[8:].decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        state = None
    if not isinstance(state, dict) or state.get("version") != PYXL_RECORD_VERSION \
            or not isinstance(state.get("config"), dict):
        raise st.StreamError("libxl_stream_read.c:586:process_record",
                             "Emulator context record of pyxl is damaged")
    img.state = state


# --- the config a restore builds ----------------------------------------------------------


def config_from_image(img: Image, libxl_obj: dict | None):
    """The typed config of the saved domain, with what the save file's libxl
    JSON says (the one a user may have edited) on top: the name, uuid,
    memory, vCPUs and each device's backend fields."""
    from pyxl.toolstack.devices import DiskSpec, NicSpec
    from pyxl.toolstack.domain_config import DomainConfig

    try:
        dc = DomainConfig.from_json_dict(img.state["config"])
    except (TypeError, ValueError, KeyError, AttributeError):
        raise st.StreamError("libxl_stream_read.c:586:process_record",
                             "Emulator context record of pyxl is damaged") from None
    if not isinstance(libxl_obj, dict):
        return dc
    c_info = libxl_obj.get("c_info") if isinstance(libxl_obj.get("c_info"), dict) else {}
    b_info = libxl_obj.get("b_info") if isinstance(libxl_obj.get("b_info"), dict) else {}
    for key in ("name", "uuid"):
        if isinstance(c_info.get(key), str):
            setattr(dc, key, c_info[key])
    for key in ("max_memkb", "target_memkb", "max_vcpus"):
        if isinstance(b_info.get(key), int) and not isinstance(b_info.get(key), bool):
            setattr(dc, key, b_info[key])
    if isinstance(b_info.get("avail_vcpus"), list):
        dc.avail_vcpus = [v for v in b_info["avail_vcpus"] if isinstance(v, int)]
    dc.disks = _devices(dc.disks, libxl_obj.get("disks"), DiskSpec)
    dc.nics = _devices(dc.nics, libxl_obj.get("nics"), NicSpec)
    return dc


def _devices(typed: list, given, cls) -> list:
    """Each device of the libxl JSON over the typed one at its index (plain
    string and number fields only: libxl's defbools print differently)."""
    if not isinstance(given, list):
        return typed
    out = []
    for i, entry in enumerate(given):
        if not isinstance(entry, dict):
            continue
        dev = typed[i] if i < len(typed) else cls()
        for key, value in entry.items():
            if not hasattr(dev, key) or isinstance(value, bool):
                continue
            current = getattr(dev, key)
            if isinstance(value, str) and (current is None or isinstance(current, str)):
                setattr(dev, key, value)
            elif isinstance(value, int) and isinstance(current, int) \
                    and not isinstance(current, bool):
                setattr(dev, key, value)
        out.append(dev)
    return out


# --- restore ---------------------------------------------------------------------------


def restore_domain(ctx: Ctx, config, img: Image, *, paused: bool, monitored: bool,
                   domid: int | None = None) -> int:
    """libxl_domain_create_restore: build the domain as create does, paused,
    then give it the image's state; unpause unless asked not to."""
    from pyxl.toolstack.create import create_domain

    kind = "HVM" if img.dtype == st.DHDR_TYPE_X86_HVM else "PV"
    _stream_arrived(ctx, img.state.get("precopy"))
    freemem(ctx, config)
    try:
        domid = create_domain(ctx, config, paused=True, monitored=monitored, domid=domid)
    except PyxlError as e:  # xl restore fails with 1, not create's negated rc
        error = PyxlError(e.message, 1)
        if getattr(e, "keep_state", False):
            error.keep_state = True
        raise error from None
    xc_info(ctx, f"Found x86 {kind} domain from Xen {img.xen[0]}.{img.xen[1]}")
    xc_info(ctx, "Restoring domain")
    _stored_config(ctx, domid, config, img.state.get("stored_config"))
    _apply_state(ctx, domid, img)
    xc_info(ctx, "Restore successful")
    d = ctx.hv.domains[domid]
    store, console = _ring_mfns(ctx, d)
    xc_info(ctx, f"XenStore: mfn 0x{store:x}, dom 0, evt {_port(ctx, domid, 'store')}")
    xc_info(ctx, f"Console: mfn 0x{console:x}, dom 0, evt {_port(ctx, domid, 'console')}")
    if not paused:
        ctx.hv.domctl_unpausedomain(domid)
    return domid


MAX_TRANSFER_NS = 86400 * 1_000_000_000


def _stream_arrived(ctx: Ctx, precopy) -> None:
    """A live migration's stream took the pre-copy's time to arrive: this
    host's clock moves by as much (at most a day, whatever a stream says)."""
    total = precopy.get("total_ns") if isinstance(precopy, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
        ctx.host.advance_to(ctx.host.now_ns + min(total, MAX_TRANSFER_NS))


def _stored_config(ctx: Ctx, domid: int, config, saved) -> None:
    """libxl keeps beside the domain the config xl gave it: for a restore
    from the image, the one kept for the saved domain (what `list -l`
    showed), with the name, uuid, memory and vCPUs this domain has."""
    if not isinstance(saved, dict) or not isinstance(saved.get("libxl_saved"), dict):
        return
    raw = ctx.host.config(domid)
    if raw is None or "libxl_saved" not in raw:
        return
    given = dict(saved["libxl_saved"])
    for key in ("name", "uuid", "max_memkb", "target_memkb", "max_vcpus", "avail_vcpus"):
        if key in given:
            given[key] = getattr(config, key)
    raw["libxl_saved"] = given
    ctx.host.set_config(domid, raw)


def freemem(ctx: Ctx, config) -> None:
    """xl's freemem before a create: the domain's memory must be free (pyxl's
    Domain-0 does not balloon down to make room)."""
    from pyxl.toolstack.create import LIBXL_MAXMEM_CONSTANT

    need = (config.target_memkb or 0) + (config.shadow_memkb or 0) + LIBXL_MAXMEM_CONSTANT
    if need > ctx.hv.free_kb():
        raise PyxlError("failed to free memory for the domain")


def _port(ctx: Ctx, domid: int, ring: str) -> int:
    """The guest's end of its XenStore or console event channel."""
    from pyxl.xenstore.errors import XenStoreError

    try:
        return int(ctx.xs().read(f"/local/domain/{domid}/{ring}/port"))
    except (XenStoreError, ValueError):
        return 0


def _ring_mfns(ctx: Ctx, d) -> tuple[int, int]:
    from pyxl.hv import mm
    from pyxl.toolstack import pvbuild

    layout = pvbuild.layout_of(d)
    if layout is not None:
        return (mm.pfn_to_mfn(d, layout.xenstore_pfn) or 0,
                mm.pfn_to_mfn(d, layout.console_pfn) or 0)
    return pvbuild.HVM_XENSTORE_PFN, pvbuild.HVM_CONSOLE_PFN


def _apply_state(ctx: Ctx, domid: int, img: Image) -> None:
    """The saved domain's state onto the new, paused one."""
    from pyxl.sim import guest as guestos
    from pyxl.sim.rows import guest_state

    state, host, hv = img.state, ctx.host, ctx.hv
    saved = state.get("domain") or {}
    _memory(ctx, domid, saved.get("tot_memkb"))
    for i, v in enumerate(state.get("vcpus") or []):
        if i < len(hv.domains[domid].vcpus) and isinstance(v, dict):
            hv.domctl_setvcpucontext(domid, i, v)
    _sched(ctx, domid, state.get("sched"), saved.get("sched_params"))
    now = host.now_ns
    lines = [(now + int(t), str(line)) for t, line in state.get("console") or []
             if isinstance(line, str)]
    if lines:
        host.append_console(domid, lines)
    monitor = state.get("monitor") or {}
    for line in monitor.get("log") or []:
        host.log_monitor(domid, str(line))
    _xenstore(ctx, domid, state.get("domid"), img.xenstore, state.get("xenstore_perms") or {},
              state.get("start_time"))
    g = guest_state(json.dumps(state.get("guest") or {}), domid)
    host._guests[domid] = g
    guestos.restored(host, hv.domains[domid], g, now, now - int(state.get("saved_ns", now)))


def _memory(ctx: Ctx, domid: int, tot_memkb) -> None:
    """The domain's allocation as it was (a balloon may have moved it from
    the config's target): populate or give back the difference."""
    from pyxl.hv.hypervisor import HypercallError

    d = ctx.hv.domains[domid]
    if not isinstance(tot_memkb, int) or tot_memkb <= 0 or tot_memkb == d.tot_memkb:
        return
    try:
        if tot_memkb > d.tot_memkb:
            ctx.hv.memory_populate_physmap(domid, tot_memkb - d.tot_memkb)
        else:
            ctx.hv.memory_decrease_reservation(domid, d.tot_memkb - tot_memkb)
    except HypercallError:
        ctx.log("error", "xg_sr_restore.c:224:populate_pfns", "Failed to populate physmap",
                errno="Out of memory", context="xc")
        raise ErrorFail(exit_code=1) from None


def _sched(ctx: Ctx, domid: int, sched, params) -> None:
    """The domain's scheduler parameters, when its new pool runs the same scheduler."""
    from pyxl.toolstack.sched import domain_sched_params_set

    d = ctx.hv.domains[domid]
    pool = ctx.hv.pools.get(d.poolid)
    if not isinstance(params, dict) or pool is None or pool.sched != sched:
        return
    changes = {k: v for k, v in params.items() if isinstance(v, int)}
    try:
        domain_sched_params_set(ctx, domid, sched, changes)
    except (LibxlError, TypeError, ValueError):
        pass  # the new pool's defaults stay, as after a create


def _xenstore(ctx: Ctx, domid: int, old_domid, pairs, perms: dict, start_time) -> None:
    """The guest's own nodes that the build did not make again (those the
    guest wrote; its frontends' are the handshake's to write anew), with
    their permissions, the old domid read as the new one."""
    from pyxl.xenstore.errors import XenStoreError
    from pyxl.xenstore.perms import Perm

    xs = ctx.xs()
    home = f"/local/domain/{domid}"
    for rel, value in pairs:
        if rel.startswith("device/") or rel == "device":
            continue
        path = f"{home}/{rel}"
        try:
            xs.read(path)
            continue
        except XenStoreError:
            pass
        try:
            xs.write(path, value)
            raw = perms.get(rel)
            if raw:
                xs.set_perms(path, [Perm(domid if p[0] == old_domid else int(p[0]),
                                         str(p[1])) for p in raw])
        except (XenStoreError, TypeError, ValueError, IndexError):
            continue
    if start_time is not None:
        d = ctx.hv.domains[domid]
        try:
            xs.write(f"/vm/{d.uuid}/start_time", str(start_time).encode("latin-1"))
        except XenStoreError:
            pass

