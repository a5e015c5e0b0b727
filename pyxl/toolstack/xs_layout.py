"""The XenStore nodes libxl writes for a domain, and removes when it goes.

Follows libxl__domain_make (one transaction, retried on EAGAIN as libxl does:
the domain's directories and their permissions), store_libxl_entry
(/libxl/D/dm-version), libxl__build_post (a second transaction: memory, vCPU
availability, store ring, /vm image info, HVM platform keys), then the
primary console; and libxl's destroy path. Creation order matters: it is the
order xenstore-ls prints. Reference: internals.md §1.2.
"""

from __future__ import annotations

from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.perms import Perm


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class BuildInfo:
    """What libxl__domain_make and libxl__build_post write, gathered by the builder."""

    def __init__(
        self,
        domid: int,
        uuid: str,
        name: str,
        type: str,  # pv | hvm | pvh
        max_memkb: int,
        target_memkb: int,
        video_memkb: int,
        max_vcpus: int,
        online_vcpus: int,
        store_port: int,
        store_mfn: int,
        console_port: int,
        console_mfn: int,
        start_time: float,
        kernel: str | None = None,
        ramdisk: str | None = None,
        cmdline: str | None = None,
        backend: int = 0,
        # HVM platform keys (libxl's defaults) and the device model libxl records.
        acpi: bool = True,
        acpi_s3: bool = True,
        acpi_s4: bool = True,
        acpi_laptop_slate: bool = False,
        rtc_timeoffset: str = "",
        dm_version: str = "qemu_xen",
        xend_suspend_evtchn_compat: bool = False,
        driver_domain: bool = False,
    ) -> None:
        self.domid = domid
        self.uuid = uuid
        self.name = name
        self.type = type
        self.max_memkb = max_memkb
        self.target_memkb = target_memkb
        self.video_memkb = video_memkb
        self.max_vcpus = max_vcpus
        self.online_vcpus = online_vcpus
        self.store_port = store_port
        self.store_mfn = store_mfn
        self.console_port = console_port
        self.console_mfn = console_mfn
        self.start_time = start_time
        self.kernel = kernel
        self.ramdisk = ramdisk
        self.cmdline = cmdline
        self.backend = backend
        self.acpi = acpi
        self.acpi_s3 = acpi_s3
        self.acpi_s4 = acpi_s4
        self.acpi_laptop_slate = acpi_laptop_slate
        self.rtc_timeoffset = rtc_timeoffset
        self.dm_version = dm_version
        self.xend_suspend_evtchn_compat = xend_suspend_evtchn_compat
        self.driver_domain = driver_domain


def dom_path(domid: int) -> str:
    return f"/local/domain/{domid}"


def _mknod(xs, path: str, perms: list[Perm], tx: int) -> None:
    """libxl__xs_mknod: an empty node with the given permissions."""
    xs.write(path, b"", tx=tx)
    xs.set_perms(path, perms, tx=tx)


def _rm_quiet(xs, path: str, tx: int) -> None:
    try:
        xs.rm(path, tx=tx)
    except XenStoreError as e:
        if e.errno != "ENOENT":
            raise


def _in_transaction(xs, tx: int, body) -> None:
    """Run body(tx) in the caller's transaction, or in a fresh one retried on EAGAIN."""
    if tx:
        body(tx)
    else:
        xs.transaction(lambda t: body(t.id))


def domain_make(xs, b: BuildInfo, tx: int = 0) -> None:
    """libxl__domain_make's transaction, then store_libxl_entry."""
    _in_transaction(xs, tx, lambda t: _make(xs, b, t))
    xs.write(f"/libxl/{b.domid}/dm-version", b.dm_version.encode(), tx=tx)


def _make(xs, b: BuildInfo, tx: int) -> None:
    d = dom_path(b.domid)
    vm = f"/vm/{b.uuid}"
    libxl = f"/libxl/{b.domid}"
    roperm = [Perm(0, "n"), Perm(b.domid, "r")]
    rwperm = [Perm(b.domid, "n")]
    noperm = [Perm(0, "n")]
    for path, perms in ((d, roperm), (vm, roperm), (libxl, noperm)):
        _rm_quiet(xs, path, tx)
        _mknod(xs, path, perms, tx)
    _mknod(xs, f"{libxl}/device", noperm, tx)
    xs.write(f"{d}/vm", vm.encode(), tx=tx)
    # libxl__domain_rename inside the same transaction: both name nodes.
    xs.write(f"{d}/name", b.name.encode(), tx=tx)
    xs.write(f"{vm}/name", b.name.encode(), tx=tx)
    _mknod(xs, f"{d}/cpu", roperm, tx)
    _mknod(xs, f"{d}/memory", roperm, tx)
    if not b.xend_suspend_evtchn_compat:
        _mknod(xs, f"{d}/device", roperm, tx)
        _mknod(xs, f"{d}/device/suspend/event-channel", rwperm, tx)
    else:
        _mknod(xs, f"{d}/device", rwperm, tx)
    _mknod(xs, f"{d}/control", roperm, tx)
    if b.type == "hvm":
        _mknod(xs, f"{d}/hvmloader", roperm, tx)
    features = ["shutdown", "feature-poweroff", "feature-reboot", "feature-suspend"]
    if b.type == "hvm":
        features += ["feature-s3", "feature-s4"]
    for key in features + ["sysrq"]:
        _mknod(xs, f"{d}/control/{key}", rwperm, tx)
    for sub in ("data", "drivers", "feature", "attr", "error"):
        _mknod(xs, f"{d}/{sub}", rwperm, tx)
    if b.driver_domain:
        _mknod(xs, f"{d}/libxl", rwperm, tx)
        _mknod(xs, f"{d}/device-model", rwperm, tx)
    xs.write(f"{vm}/uuid", b.uuid.encode(), tx=tx)
    xs.write(f"{vm}/name", b.name.encode(), tx=tx)
    xs.write(f"{d}/control/platform-feature-multiprocessor-suspend", b"1", tx=tx)
    xs.write(f"{d}/control/platform-feature-xs_reset_watches", b"1", tx=tx)
    xs.write(f"{libxl}/type", b.type.encode(), tx=tx)


def targetmem_fudge(type: str, video_memkb: int, max_memkb: int, target_memkb: int) -> int:
    """libxl__get_targetmem_fudge: HVM guests' target excludes video RAM (+1 MiB)."""
    if type != "hvm":
        return 0
    fudge = video_memkb
    if max_memkb > target_memkb:
        fudge += 1024
    return fudge


def _start_time(t: float) -> str:
    secs = int(t)
    return f"{secs}.{int((t - secs) * 1_000_000) // 10000:02d}"


def build_post(xs, b: BuildInfo, tx: int = 0) -> None:
    """libxl__build_post's transaction, then the primary console in its own
    (libxl__device_console_add: libxl__device_generic_add makes one)."""
    _in_transaction(xs, tx, lambda t: _post(xs, b, t))
    _in_transaction(xs, tx, lambda t: _console(xs, b, t))


def _post(xs, b: BuildInfo, tx: int) -> None:
    d = dom_path(b.domid)
    vm = f"/vm/{b.uuid}"
    fudge = targetmem_fudge(b.type, b.video_memkb, b.max_memkb, b.target_memkb)
    ents = [
        ("memory/static-max", str(b.max_memkb)),
        ("memory/target", str(b.target_memkb - fudge)),
        ("memory/videoram", str(b.video_memkb)),
        ("domid", str(b.domid)),
        ("store/port", str(b.store_port)),
        ("store/ring-ref", str(b.store_mfn)),
    ]
    for i in range(b.max_vcpus):
        ents.append((f"cpu/{i}/availability", "online" if i < b.online_vcpus else "offline"))
    local: list[tuple[str, str]] = []
    start = _start_time(b.start_time)
    if b.type == "hvm":
        vms = [("rtc/timeoffset", b.rtc_timeoffset), ("image/ostype", "hvm"),
               ("start_time", start)]
        local = [("platform/acpi", "1" if b.acpi else "0"),
                 ("platform/acpi_s3", "1" if b.acpi_s3 else "0"),
                 ("platform/acpi_s4", "1" if b.acpi_s4 else "0"),
                 ("platform/acpi_laptop_slate", "1" if b.acpi_laptop_slate else "0"),
                 ("platform/device-model", b.dm_version)]
    elif b.type == "pv":
        vms = [("image/ostype", "linux")]
        if b.kernel:
            vms.append(("image/kernel", b.kernel))
        vms.append(("start_time", start))
        if b.ramdisk:
            vms.append(("image/ramdisk", b.ramdisk))
        if b.cmdline:
            vms.append(("image/cmdline", b.cmdline))
    else:  # pvh
        vms = [("start_time", start)]
    for key, value in ents + local:
        xs.write(f"{d}/{key}", value.encode(), tx=tx)
    for key, value in vms:
        xs.write(f"{vm}/{key}", value.encode(), tx=tx)


def _console(xs, b: BuildInfo, tx: int) -> None:
    """The primary console: frontend at ~/console, backend in the backend's tree."""
    d = dom_path(b.domid)
    front = f"{d}/console"
    back = f"{dom_path(b.backend)}/backend/console/{b.domid}/0"
    ro_front = [Perm(b.backend, "n"), Perm(b.domid, "r")]
    guest_owned = [Perm(b.domid, "n"), Perm(b.backend, "r")]
    kind = "ioemu" if b.type == "hvm" else "xenconsoled"
    _mknod(xs, front, ro_front, tx)
    for key, value in (("limit", "1048576"), ("type", kind), ("output", "pty"),
                       ("tty", ""), ("port", str(b.console_port)),
                       ("ring-ref", str(b.console_mfn))):
        xs.write(f"{front}/{key}", value.encode(), tx=tx)
        xs.set_perms(f"{front}/{key}", ro_front, tx=tx)
    for key, value in (("backend-id", str(b.backend)), ("backend", back)):
        xs.write(f"{front}/{key}", value.encode(), tx=tx)
        xs.set_perms(f"{front}/{key}", guest_owned, tx=tx)
    _mknod(xs, back, ro_front, tx)
    for key, value in (("frontend", front), ("frontend-id", str(b.domid)), ("online", "1"),
                       ("state", "1"), ("protocol", "vt100")):
        xs.write(f"{back}/{key}", value.encode(), tx=tx)


def domain_remove(xs, domid: int, uuid: str, backend: int = 0) -> None:
    """What libxl's destroy path removes, then xenstored's release of the domain."""
    for path in (f"{dom_path(backend)}/backend/console/{domid}",
                 dom_path(domid), f"/vm/{uuid}", f"/libxl/{domid}"):
        _rm_quiet(xs, path, 0)
    try:
        xs.release_domain(domid)
    except XenStoreError as e:
        if e.errno != "ENOENT":  # never introduced (a failed create)
            raise
