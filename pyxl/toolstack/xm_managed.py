"""xend's managed domains, for pyxm: definitions a host keeps while no domain runs them.

xend kept each definition as /var/lib/xend/domains/<uuid>/config.sxp and a
suspended one's image beside it. pyxl keeps the definitions in the host's
meta under one key (`xm_managed`, absent on a host that never had one, so
other commands pay nothing) and a suspended definition's image in the host's
folder as xm-domains/<uuid>.chk: a name pyxl makes from the uuid it gave
the definition, never from the domain's name. A definition is running when a
domain with its uuid exists; xl has no such thing, so `xl list` shows only
that domain.

The definition holds the xl.cfg text that pyxm made of the xm config, read
again by xl's parser at each start, as xend read its config.sxp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyxl.errors import PyxlError

if TYPE_CHECKING:
    from pyxl.toolstack.libxl import Libxl, Opener

META_KEY = "xm_managed"
IMAGE_DIR = "xm-domains"
HALTED, SUSPENDED, RUNNING = "halted", "suspended", "running"


class XendError(PyxlError):
    """A fault xend raised: xm printed its string, then the command's usage, exit 1."""

    def __init__(self, message: str):
        super().__init__(message, 1)


@dataclass
class Managed:
    """One definition: what `xm list` shows of it when halted, and how to start it."""

    uuid: str
    name: str
    config: str     # xl.cfg text
    source: str     # the file it came from, for xl's messages
    memory_mb: int
    vcpus: int


def _table(libxl: Libxl) -> dict:
    text = libxl._ctx.host.meta.get(META_KEY)
    if not text:
        return {}
    try:
        table = json.loads(text)
    except (ValueError, RecursionError):
        table = None
    if not isinstance(table, dict):
        raise PyxlError(f"pyxl: the host's managed domains (meta '{META_KEY}') are damaged")
    return table


def _save(libxl: Libxl, table: dict) -> None:
    libxl._ctx.host.set_meta(META_KEY, json.dumps(table, sort_keys=True))


def definitions(libxl: Libxl) -> list[Managed]:
    """Every definition on the host, by name (xend's list order)."""
    found = []
    for uuid, entry in _table(libxl).items():
        try:
            found.append(Managed(uuid=uuid, **entry))
        except TypeError:
            raise PyxlError(f"pyxl: managed domain {uuid} is damaged") from None
    return sorted(found, key=lambda m: m.name)


def running_domid(libxl: Libxl, m: Managed) -> int | None:
    """The domain that runs the definition (same uuid, not shut down), or None."""
    for info in libxl.list_domain():
        if info.uuid == m.uuid and info.domid != 0:
            return None if info.shutdown else info.domid
    return None


def power_state(libxl: Libxl, m: Managed) -> str:
    """xend's _stateGet for a definition: running, else suspended when its
    image is kept, else halted."""
    if running_domid(libxl, m) is not None:
        return RUNNING
    return SUSPENDED if image_path(libxl, m.uuid).exists() else HALTED


def lookup(libxl: Libxl, qualifier: str) -> Managed | None:
    """xend's domain_lookup_nr among definitions: by name, by the domid of
    the domain running it, or by uuid."""
    table = definitions(libxl)
    for m in table:
        if m.name == qualifier or m.uuid == qualifier:
            return m
    if table and qualifier.isascii() and qualifier.isdigit():
        uuids = {i.uuid for i in libxl.list_domain() if str(i.domid) == qualifier}
        for m in table:
            if m.uuid in uuids:
                return m
    return None


def define(libxl: Libxl, text: str, source: str) -> Managed:
    """xm new: check the config as a create would, then keep it; xend's
    VmError when the name is taken by a definition or a domain."""
    from pyxl.toolstack.create import host_info
    from pyxl.toolstack.setdefault import domain_config_setdefault

    loaded = libxl.parse_config(text, source)
    config = domain_config_setdefault(loaded.config, host_info(libxl._ctx))
    name = config.name
    domid = libxl.name_to_domid(name)
    taken = [m for m in definitions(libxl) if m.name == name and m.uuid != config.uuid]
    if domid is not None or taken:
        where = f" as domain {domid}" if domid is not None else ""
        raise XendError(f"VM name '{name}' already exists{where}")
    m = Managed(uuid=config.uuid, name=name, config=text, source=source,
                memory_mb=(config.target_memkb or config.max_memkb or 0) // 1024,
                vcpus=config.max_vcpus or 1)
    table = _table(libxl)
    table[m.uuid] = {k: v for k, v in vars(m).items() if k != "uuid"}
    _save(libxl, table)
    return m


def undefine(libxl: Libxl, m: Managed) -> None:
    """xm delete of a halted definition."""
    table = _table(libxl)
    table.pop(m.uuid, None)
    _save(libxl, table)


def start(libxl: Libxl, m: Managed, *, paused: bool) -> tuple[int, list[str]]:
    """xm start: a domain from the definition, with its uuid; (domid, xl's warnings)."""
    loaded = libxl.parse_config(m.config, m.source)
    loaded.config.uuid = m.uuid
    domid = libxl.domain_create_new(loaded.config, paused=paused)
    return domid, list(loaded.warnings)


def image_path(libxl: Libxl, uuid: str):
    """xm-domains/<uuid>.chk in the host's folder (the uuid checked as one)."""
    import uuid as uuidlib

    from pyxl.state.paths import host_path

    try:
        name = f"{uuidlib.UUID(uuid)}.chk"
    except ValueError:
        raise PyxlError(f"pyxl: managed domain {uuid!r} has no valid uuid") from None
    return host_path(libxl._ctx.host.name, IMAGE_DIR, name)


def suspend(reopen: Opener, m: Managed, domid: int) -> None:
    """xm suspend: the domain saved into the host's store, then destroyed;
    on failure the domain runs on and no image is kept."""
    import os

    from pyxl.toolstack import stream as st
    from pyxl.toolstack.libxl import domain_suspend

    with reopen() as libxl:
        got = libxl.retrieve_domain_configuration(domid)
        path = image_path(libxl, m.uuid)
    if got is None:
        raise XendError("can't write guest state file: unable to retrieve domain configuration")
    config, data = got
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except OSError as e:
        raise XendError(f"can't write guest state file {path}: {e.strerror}") from None
    failure = None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(st.encode_save_header(st.save_header(data)))
            rc = domain_suspend(reopen, domid)
            with reopen() as libxl:
                failure = f"Failed to suspend domain {m.name} (rc={rc})" if rc else None
                if failure is None:
                    failure = _write_image(libxl, domid, f, config, path)
                if failure is None:
                    libxl.domain_destroy(domid)
                else:
                    libxl.domain_resume(domid)
    except OSError as e:
        failure = f"can't write guest state file {path}: {e.strerror}"
    if failure is not None:
        path.unlink(missing_ok=True)
        raise XendError(failure)


def _write_image(libxl: Libxl, domid: int, f, config, path) -> str | None:
    """The suspended domain's stream into `f`; None, or xend's message."""
    try:
        libxl.domain_suspend_image(domid, f, config)
    except OSError as e:
        return f"can't write guest state file {path}: {e.strerror}"
    return None


def resume(reopen: Opener, m: Managed, *, paused: bool) -> int:
    """xm resume: the domain restored from its kept image, which is then
    removed; the new domid."""
    with reopen() as libxl:
        path = image_path(libxl, m.uuid)
        try:
            with open(path, "rb") as f:
                image, obj = _read_checkpoint(f)
        except OSError:
            raise XendError("Failed to read stored checkpoint file") from None
        config = libxl.restore_config(image, obj)
        config.uuid = m.uuid
        domid = libxl.domain_create_restore(config, image, paused=paused)
    path.unlink(missing_ok=True)
    return domid


def _read_checkpoint(f):
    """The image and libxl's JSON config of a file `suspend` wrote."""
    import struct

    from pyxl.toolstack import stream as st
    from pyxl.toolstack.saverestore import read_image

    raw = st.read_upto(f, st.HEADER_SIZE)
    try:
        if len(raw) < st.HEADER_SIZE or raw[:32] != st.SAVEFILE_MAGIC:
            raise st.StreamError("", "not a pyxl save file")
        _order, mandatory, optional, optlen = struct.unpack("=IIII", raw[32:])
        header = st.SaveHeader(mandatory, optional, st.read_upto(f, optlen))
        data = st.config_of(header)
        obj = json.loads(data) if data else None
        return read_image(f), obj if isinstance(obj, dict) else None
    except (st.StreamError, ValueError, RecursionError):
        raise XendError("Failed to read stored checkpoint file") from None
