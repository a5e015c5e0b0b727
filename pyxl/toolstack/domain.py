"""Lifecycle operations on existing domains: libxl_domain_* for xl's commands.

Each function does what the libxl call does, including the log lines libxl
would print on failure (through ctx.log), and raises PyxlError with xl's
message and exit status where xl fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyxl.cnum import strtoul_value
from pyxl.errors import ERROR_INVAL, ErrorDomainNotfound, LibxlError, PyxlError
from pyxl.hv.errors import HypercallError
from pyxl.toolstack.ctx import Ctx, is_text

if TYPE_CHECKING:  # not imported at run time: `domid` and `domname` start quickly
    from pyxl.hv.hypervisor import DomainInfo


def domain_info(ctx: Ctx, domid: int) -> DomainInfo:
    """libxl_domain_info: ERROR_DOMAIN_NOTFOUND (logged) if there is no such domain."""
    try:
        return ctx.hv.getdomaininfo(domid)
    except HypercallError as e:
        ctx.log("error", "libxl_domain.c:356:libxl_domain_info", "Getting domain info",
                domid, e.strerror)
        raise ErrorDomainNotfound from None


def list_domains(ctx: Ctx) -> list[DomainInfo]:
    return ctx.hv.list_domains()


def destroy(ctx: Ctx, domid: int) -> None:
    try:
        info = domain_info(ctx, domid)
    except LibxlError as e:
        ctx.log("error", "libxl_domain.c:1181:libxl__destroy_domid", "Non-existant domain", domid)
        ctx.log("error", "libxl_domain.c:1135:domain_destroy_callback", "Unable to destroy guest",
                domid)
        ctx.log("error", "libxl_domain.c:1062:domain_destroy_cb", "Destruction of domain failed",
                domid)
        raise PyxlError(f"destroy failed (rc={e.rc})") from None
    from pyxl.toolstack import device, xs_layout
    from pyxl.xenstore.lookup import directory_or_empty, read_or_none

    xs = ctx.xs()
    # USB and PCI code is imported only for a domain that has such devices.
    if "vusb" in directory_or_empty(xs, f"/libxl/{domid}/device"):
        from pyxl.toolstack import usb

        usb.destroy_all(ctx, domid)  # its devices first, then the controllers' backends
    device.destroy_all(ctx, domid)
    if read_or_none(xs, f"/local/domain/0/backend/pci/{domid}/0/num_devs") is not None:
        from pyxl.toolstack import pci

        pci.destroy_all(ctx, domid)
    xs_layout.domain_remove(xs, domid, info.uuid)
    ctx.hv.domctl_destroydomain(domid)
    from pyxl.toolstack.channels import release

    release(ctx, domid)


def pause(ctx: Ctx, domid: int) -> None:
    """libxl_domain_pause; xl ignores its failure (exit 0), libxl logs it."""
    try:
        ctx.hv.domctl_pausedomain(domid)
    except HypercallError as e:
        ctx.log("error", "libxl_domain.c:585:libxl_domain_pause", "Pausing domain",
                domid, e.strerror)


def unpause(ctx: Ctx, domid: int) -> None:
    """libxl_domain_unpause: it asks the domain's type first (an HVM guest's
    device model is resumed too); xl ignores a failure, libxl logs it."""
    try:
        ctx.hv.getdomaininfo(domid)
    except HypercallError as e:
        ctx.log("error", "libxl_dom.c:37:libxl__domain_type", "unable to get dominfo",
                domid, e.strerror)
        return
    try:
        ctx.hv.domctl_unpausedomain(domid)
    except HypercallError as e:
        ctx.log("error", "libxl_domain.c:686:domain_unpause_done",
                "Unpausing domain", domid, e.strerror)


def check_new_name(ctx: Ctx, name: str, domid: int | None = None) -> int:
    """libxl__domain_rename's check: a non-empty name must be unique (an
    empty one, or one with spaces, is accepted). Returns 0 or a libxl error
    code. pyxl keeps names as text, so a name that is not is refused."""
    if not is_text(name):
        from pyxl.toolstack.libxlu_cfg import printable

        ctx.log("error", "libxl_domain.c:449:libxl__domain_rename",
                f"invalid domain name \"{printable(name)}\"", domid)
        return ERROR_INVAL
    other = ctx.host.domid_by_name(name) if name else None
    if other is not None and other != domid:
        ctx.log("error", "libxl_domain.c:81:libxl__domain_rename",
                f"Domain with name \"{name}\" already exists.", domid)
        return ERROR_INVAL
    return 0


def rename(ctx: Ctx, domid: int, new_name: str, qualifier: str) -> None:
    """libxl_domain_rename: XenStore's two name nodes, in one transaction."""
    fail = PyxlError(f"Can't rename domain '{qualifier}'.")
    if check_new_name(ctx, new_name, domid):
        raise fail
    try:
        domain_info(ctx, domid)    # for /vm/UUID/name: the transaction is dropped
    except LibxlError:
        raise fail from None
    d = ctx.hv.domain(domid)
    xs = ctx.xs()
    xs.write(f"/local/domain/{domid}/name", new_name.encode())
    xs.write(f"/vm/{d.uuid}/name", new_name.encode())
    d.name = new_name


def domid_of(ctx: Ctx, name: str) -> int | None:
    """libxl_name_to_domid: None if no domain has that name (none can have a
    name that is not text)."""
    return ctx.host.domid_by_name(name) if is_text(name) else None


def name_of(ctx: Ctx, domid: int) -> str | None:
    return ctx.host.name_of(domid)


def peek_domid(conn, name: str) -> int | None:
    """domid_of from the stored rows, when no simulation needs to run first."""
    from pyxl.sim.peek import stored_domid

    return stored_domid(conn, name) if is_text(name) else None


def peek_name(conn, domid: int) -> str | None:
    """name_of from the stored rows, when no simulation needs to run first."""
    from pyxl.sim.peek import stored_name

    return stored_name(conn, domid)


def start_time(ctx: Ctx, domid: int) -> int | None:
    """libxl_vm_get_start_time: whole seconds from /vm/UUID/start_time; None
    (logged without strerror: libxl passes errno -1) when it cannot be read."""
    d = ctx.hv.domains.get(domid)
    raw = None
    if d is not None:
        try:
            raw = ctx.xs().read(f"/vm/{d.uuid}/start_time")
        except PyxlError:
            pass
    if raw is None:
        ctx.log("error", "libxl_domain.c:2224:libxl_vm_get_start_time",
                "Can't get start time of domain", domid)
        return None
    return strtoul_value(raw.decode("latin-1"))   # libxl: strtoul(s, NULL, 10)

