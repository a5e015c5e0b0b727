"""xm save, restore and migrate, over the toolstack's save stream.

What xend refused, it refused before touching anything, in its words: an
unknown domain is exit 3, any other fault `Error: ...` and the command's
usage (exit 1). The file is an ordinary xl save file (so `pyxl restore`
reads what `pyxm save` wrote, and the other way round), and migrate speaks
xl's protocol to `pyxl migrate-receive` on a host of this state directory,
as pyxl migrates. On success all three print nothing, as xm did.
"""

from __future__ import annotations

import os

from pyxl.cli.xm.common import arg_check, find_domain, getopt, quiet_session, session
from pyxl.errors import PyxlError

MIGRATE_USE = ("[options] DOM HOST\n\nMigrate domain DOM to host HOST.\n"
               "Xend must be running on the local host and on HOST.\n")
SIGNATURE_LEN = 16  # what xend read first (its "LinuxGuestRecord")
NO_SUCH_HOST = "can't connect: [Errno -2] Name or service not known"


def _fault(message: str, command: str, extra: str = ""):
    """A xend fault: `Error: message`, then the command's usage (exit 1)."""
    from pyxl.cli.xm.main import XmUsage

    return XmUsage(message, command, extra)


def _running(libxl, qualifier: str, command: str, verb: str) -> int:
    """xend's checks before save and migrate: the domain, not dom0, running."""
    domid = find_domain(libxl, qualifier)
    if domid == 0:
        raise _fault(f"Cannot {verb} privileged domain {qualifier}", command)
    info = libxl.domain_info(domid)
    if info is None or info.paused or info.shutdown or info.dying:
        raise _fault("Domain is not running", command)
    return domid


def _config(libxl, domid: int, command: str):
    got = libxl.retrieve_domain_configuration(domid)
    if got is None:
        raise _fault("unable to retrieve domain configuration", command)
    return got


# --- save ---


def xm_save(host, args):
    """xm save [-c] DOM FILE: the domain saved, then destroyed (or, with
    -c, left running)."""
    arg_check(args, "save", 2, 3)
    options, params = getopt(args, "save", "c", ["checkpoint"])
    if len(params) != 2:
        raise _fault("Wrong number of parameters", "save")
    savefile = os.path.abspath(params[1])
    if not os.access(os.path.dirname(savefile), os.W_OK):
        raise PyxlError(f"xm save: Unable to create file {savefile}")
    with session(host, write=False) as libxl:
        domid = _running(libxl, params[0], "save", "save")
        name = libxl.domid_to_name(domid) or params[0]
        config, data = _config(libxl, domid, "save")
    try:
        fd = os.open(savefile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        raise _fault(f"can't write guest state file {savefile}: {e.strerror}", "save") from None
    with os.fdopen(fd, "wb") as f:
        failure = _save_into(host, domid, name, f, config, data, bool(options))
    if failure is not None:
        os.unlink(savefile)
        raise _fault(failure, "save")
    return 0


def _save_into(host, domid: int, name: str, f, config, data: bytes,
               checkpoint: bool) -> str | None:
    """XendCheckpoint.save: header, suspend, stream; then the domain goes
    (or resumes, with -c, or after a failure). None, or xend's message."""
    from pyxl.toolstack import stream as st
    from pyxl.toolstack.libxl import domain_suspend

    try:
        f.write(st.encode_save_header(st.save_header(data)))
    except OSError as e:
        return f"could not write guest state file: {e.strerror}"
    rc = domain_suspend(lambda: quiet_session(host), domid)
    failure = f"Failed to suspend domain {name} (rc={rc})" if rc else None
    with quiet_session(host) as libxl:
        if failure is None:
            try:
                libxl.domain_suspend_image(domid, f, config)
                f.flush()
            except OSError as e:
                failure = f"could not write guest state file: {e.strerror}"
        if failure is None and not checkpoint:
            libxl.domain_destroy(domid)
        else:
            libxl.domain_resume(domid)
    return failure


# --- restore ---


def xm_restore(host, args):
    """xm restore FILE [-p]: a domain from a save file."""
    arg_check(args, "restore", 1, 2)
    options, params = getopt(args, "restore", "p", ["paused"])
    if len(params) != 1:
        raise _fault("Wrong number of parameters", "restore")
    savefile = os.path.abspath(params[0])
    if not os.access(savefile, os.R_OK):
        raise PyxlError(f"xm restore: Unable to read file {savefile}")
    try:
        with open(savefile, "rb") as f:
            image, obj = _read_save_file(f)
    except OSError as e:
        raise _fault(f"can't read guest state file {savefile}: {e.strerror}",
                     "restore") from None
    from pyxl.toolstack import stream as st

    with quiet_session(host) as libxl:
        try:
            config = libxl.restore_config(image, obj)
        except st.StreamError as e:
            raise _fault(f"not a valid guest state file: {e.message}", "restore") from None
        other = libxl.name_to_domid(config.name)
        if other is None:
            other = next((i.domid for i in libxl.list_domain() if i.uuid == config.uuid), None)
        if other is not None:
            raise _fault(f"Domain '{config.name}' already exists with ID '{other}'", "restore")
        libxl.domain_create_restore(config, image, paused=bool(options))
    return 0


def _read_save_file(f):
    """XendCheckpoint.restore's reading, of xl's format: the header, the
    embedded config (libxl's JSON) and the image; xend's message for a file
    that is not one."""
    import json
    import struct

    from pyxl.toolstack import stream as st
    from pyxl.toolstack.saverestore import read_image

    raw = st.read_upto(f, st.HEADER_SIZE)
    if len(raw) < SIGNATURE_LEN:
        raise _fault("not a valid guest state file: signature read", "restore")
    if raw[:len(st.SAVEFILE_MAGIC)] != st.SAVEFILE_MAGIC:
        found = raw[:SIGNATURE_LEN].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise _fault(f"not a valid guest state file: found '{found}'", "restore")
    if len(raw) < st.HEADER_SIZE:
        raise _fault("not a valid guest state file: config size read", "restore")
    _order, mandatory, optional, optlen = struct.unpack("=IIII", raw[32:])
    header = st.SaveHeader(mandatory, optional, st.read_upto(f, optlen))
    try:
        data = st.config_of(header) if len(header.optional_data) == optlen else None
        obj = json.loads(data) if data else None
    except (st.StreamError, ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        raise _fault("not a valid guest state file: config read", "restore")
    try:
        return read_image(f), obj
    except st.StreamError as e:
        raise _fault(f"not a valid guest state file: {e.message}", "restore") from None


# --- migrate ---


def xm_migrate(host, args):
    """xm migrate DOM HOST [-l] [-p PORT] [-n NODE] [-s] [-c]: to a host of
    this state directory; live (pre-copy rounds) with -l, else stop and copy."""
    opts, params = _migrate_options(args)
    if len(params) != 2:
        raise _fault("Invalid number of arguments", "migrate", "\n")
    qualifier, dst = params
    with session(host, write=False) as libxl:
        domid = _running(libxl, qualifier, "migrate", "migrate")
        if "-c" in opts and not _managed(libxl, domid):
            raise _fault("Domain is not a managed domain", "migrate")
        name = libxl.domid_to_name(domid) or qualifier
        config, data = _config(libxl, domid, "migrate")
    from pyxl.toolstack import migrate as mig

    if not mig.local_host(dst):
        raise _fault(NO_SUCH_HOST, "migrate")
    failure = _send(host, domid, name, dst, config, data, live="-l" in opts)
    if failure is not None:
        raise _fault(failure, "migrate")
    return 0


def _migrate_options(args: list[str]) -> tuple[dict, list[str]]:
    """migrate.py's options, by short name; xm's errors for bad ones."""
    import getopt as _getopt

    try:
        options, params = _getopt.gnu_getopt(args, "hlp:n:sc", ["help", "live", "port=",
                                                               "node=", "ssl",
                                                               "change_home_server"])
    except _getopt.GetoptError as e:
        raise _fault(str(e), "migrate", MIGRATE_USE + "\n") from None
    longs = {"--live": "-l", "--port": "-p", "--node": "-n", "--ssl": "-s",
             "--change_home_server": "-c"}
    opts = {longs.get(k, k): v for k, v in options}
    for key in ("-p", "-n"):
        if key in opts and not _is_int(opts[key]):
            raise PyxlError(f"Invalid value: {opts[key]}")
    return opts, params


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _managed(libxl, domid: int) -> bool:
    """Whether a pyxm definition runs as this domain."""
    from pyxl.toolstack import xm_managed

    return any(xm_managed.running_domid(libxl, m) == domid
               for m in xm_managed.definitions(libxl))


def _send(host, domid: int, name: str, dst: str, config, data: bytes,
          live: bool) -> str | None:
    """The sender's half of the migration (xl's protocol, pyxl's receiver
    on `dst`), silent as xend was; None, or the fault to report. On any
    failure before the target has started its copy, ours runs on."""
    from pyxl.toolstack import migrate as mig
    from pyxl.toolstack import stream as st

    said: list[str] = []
    child = mig.Child(mig.local_rune(dst, mig.ReceiverFlags()), said.append)
    if mig.read_exactly(child.recv, len(mig.RECEIVER_BANNER)) != mig.RECEIVER_BANNER:
        child.finish()
        return _target_said(said, dst)
    try:
        child.send.write(st.encode_save_header(st.save_header(data)))
        child.send.flush()
    except OSError:
        pass  # the stream's write that follows fails the same way
    rc = _stream(host, domid, child.send, config, live)
    away = f"migrating-{name}"
    if not rc and _expect(child, mig.RECEIVER_READY):
        with quiet_session(host) as libxl:
            libxl.domain_rename(domid, away, name)
        status = _go(child)
        if status == 0:
            with quiet_session(host) as libxl:
                libxl.domain_destroy(domid)
            child.finish()
            return None
        if status is None:  # xl's "failed badly": neither copy may be resumed
            child.finish()
            return (f"Migration failed during final handshake: check {dst} and this host "
                    f"before resuming {away} (from {dst})")
        _expect(child, mig.PERMISSION_TO_GO)
        with quiet_session(host) as libxl:
            libxl.domain_rename(domid, name, away)
    child.finish()
    with quiet_session(host) as libxl:
        libxl.domain_resume(domid)
    return _target_said(said, dst)


def _stream(host, domid: int, out, config, live: bool) -> int:
    """The domain's stream into `out`: pre-copy rounds first with --live,
    else suspended at once (xm's default); 0 or the libxl rc."""
    from pyxl.errors import ERROR_FAIL
    from pyxl.toolstack.libxl import domain_save_live, domain_suspend

    reopen = lambda: quiet_session(host)  # noqa: E731
    if live:
        return domain_save_live(reopen, domid, out, config)[0]
    rc = domain_suspend(reopen, domid)
    if rc:
        return rc
    try:
        with reopen() as libxl:
            libxl.domain_suspend_image(domid, out, config)
        out.flush()
    except OSError:
        return ERROR_FAIL
    return 0


def _expect(child, message: bytes) -> bool:
    from pyxl.toolstack.migrate import read_exactly

    return read_exactly(child.recv, len(message)) == message


def _go(child) -> int | None:
    """Permission to start, then the target's status byte (None: no answer)."""
    from pyxl.toolstack import migrate as mig

    try:
        child.send.write(mig.PERMISSION_TO_GO)
        child.send.flush()
    except OSError:
        return None
    if not _expect(child, mig.REPORT):
        return None
    status = mig.read_exactly(child.recv, 1)
    return status[0] if status else None


def _target_said(said: list[str], dst: str) -> str:
    """xend's report of a failure at the destination: its message and
    `(from HOST)`; the receiver's last word on what went wrong."""
    words = [line for line in said if line.strip() and not line.startswith(
        ("migration target:", "xc: ", "Loading new save file", " Savefile", "Parsing config"))]
    return f"{words[-1].strip() if words else 'Migration failed'} (from {dst})"
