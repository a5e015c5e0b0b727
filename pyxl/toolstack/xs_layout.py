"""The XenStore nodes libxl writes for a domain, and removes when it goes.

Follows libxl__domain_make (one transaction: the domain's directories and
their permissions), libxl__build_post (memory, cpu availability, store and
console rings, /vm image info), then XS_INTRODUCE; and libxl's destroy path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.perms import Perm


@dataclass
class BuildInfo:
    """What libxl__build_post writes, gathered by the domain builder."""

    domid: int
    uuid: str
    name: str
    type: str  # pv | hvm | pvh
    max_memkb: int
    target_memkb: int
    video_memkb: int
    max_vcpus: int
    online_vcpus: int
    store_port: int
    store_mfn: int
    console_port: int
    console_mfn: int
    start_time: float
    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str | None = None
    backend: int = 0


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


def domain_make(xs, b: BuildInfo, tx: int = 0) -> None:
    """libxl__domain_make's transaction: the domain's skeleton in XenStore."""
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
    xs.write(f"{d}/name", b.name.encode(), tx=tx)
    xs.write(f"{vm}/name", b.name.encode(), tx=tx)
    for sub in ("cpu", "memory", "device"):
        _mknod(xs, f"{d}/{sub}", roperm, tx)
    _mknod(xs, f"{d}/device/suspend/event-channel", rwperm, tx)
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
    xs.write(f"{vm}/uuid", b.uuid.encode(), tx=tx)
    xs.write(f"{vm}/name", b.name.encode(), tx=tx)
    xs.write(f"{d}/control/platform-feature-multiprocessor-suspend", b"1", tx=tx)
    xs.write(f"{d}/control/platform-feature-xs_reset_watches", b"1", tx=tx)
    xs.write(f"{libxl}/type", b.type.encode(), tx=tx)


def build_post(xs, b: BuildInfo, tx: int = 0) -> None:
    """libxl__build_post: memory, vCPU availability, rings, /vm image info."""
    d = dom_path(b.domid)
    vm = f"/vm/{b.uuid}"
    fudge = b.video_memkb if b.type == "hvm" else 0
    if b.type == "hvm" and b.max_memkb > b.target_memkb:
        fudge += 1024
    writes = [
        (f"{d}/memory/static-max", str(b.max_memkb)),
        (f"{d}/memory/target", str(b.target_memkb - fudge)),
        (f"{d}/memory/videoram", str(b.video_memkb)),
        (f"{d}/domid", str(b.domid)),
        (f"{d}/store/port", str(b.store_port)),
        (f"{d}/store/ring-ref", str(b.store_mfn)),
    ]
    for i in range(b.max_vcpus):
        writes.append((f"{d}/cpu/{i}/availability",
                       "online" if i < b.online_vcpus else "offline"))
    writes.append((f"{vm}/image/ostype", "hvm" if b.type == "hvm" else "linux"))
    if b.type != "hvm":
        for key, value in (("kernel", b.kernel), ("ramdisk", b.ramdisk),
                           ("cmdline", b.cmdline)):
            if value:
                writes.append((f"{vm}/image/{key}", value))
    secs = int(b.start_time)
    hundredths = int((b.start_time - secs) * 100)
    writes.append((f"{vm}/start_time", f"{secs}.{hundredths:02d}"))
    for path, value in writes:
        xs.write(path, value.encode(), tx=tx)
    _console(xs, b, tx)


def _console(xs, b: BuildInfo, tx: int) -> None:
    """The primary console: frontend at ~/console, backend in dom0's tree."""
    d = dom_path(b.domid)
    front = f"{d}/console"
    back = f"{dom_path(b.backend)}/backend/console/{b.domid}/0"
    ro_front = [Perm(b.backend, "n"), Perm(b.domid, "r")]
    guest_owned = [Perm(b.domid, "n"), Perm(b.backend, "r")]
    _mknod(xs, front, ro_front, tx)
    for key, value in (("limit", "1048576"), ("type", "xenconsoled"), ("output", "pty"),
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
    xs.release_domain(domid)
