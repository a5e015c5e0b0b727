"""The xenstore-* tools (tools/xs-clients/xenstore_client.c), as pyxl commands.

They are not xl commands: options follow the real tools' getopt string
"hfspturn:Rd:" (every mode accepts every letter, then rejects the ones it
does not use with its usage line), messages go through warnx/errx as
"xenstore-<mode>: ..." and failures exit 1. read of several keys, write of
several pairs, rm, exists, list and chmod run in one transaction, retried on
EAGAIN; ls and watch do not. pyxl adds `-T TXID` (run inside a transaction
started by `pyxl xenstore-transaction start`) so conflicts can be shown.
The caller is dom0 unless --as-domid / PYXL_AS_DOMID says otherwise.
"""

from __future__ import annotations

import os
import sys

import click

from pyxl.cli.base import err, session
from pyxl.cnum import UINT32_MAX, atoi
from pyxl.toolstack.xs import XenStoreError

LONG = {"help": "h", "flat": "f", "prefix": "p", "tidy": "t", "upto": "u", "recurse": "r",
        "number": "n", "raw": "R", "depth": "d", "transaction": "T"}
WITH_ARG = "ndT"
USAGE = {"read": "[-h] [-p] [-R] key [...]", "write": "[-h] [-R] key value [...]",
         "rm": "[-h] [-t] key [...]", "exists": "[-h] key", "list": "[-h] [-p] key [...]",
         "ls": "[-h] [-f] [-p] [path]", "chmod": "[-h] [-u] [-r] key <mode [modes...]>",
         "watch": "[-h] [-n NR] key"}
ALLOWED = {"f": ("ls",), "p": ("read", "list", "ls"), "t": ("rm",), "u": ("chmod",),
           "r": ("chmod",), "n": ("watch",), "R": ("read", "write"), "d": ("watch",),
           "s": None, "T": ("read", "write", "rm", "exists", "list", "ls", "chmod"),
           "j": ("ls",)}
JSON_LONG = {"json": "j"}  # pyxl's ls --json, a long option only
TAG_LEN = len(' = "..."')


class Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def _warnx(prog: str, msg: str) -> None:
    sys.stdout.flush()
    err(f"{prog}: {msg}\n")  # warnx adds one newline, whatever the message ends with


def _errx(prog: str, msg: str, code: int = 1):
    _warnx(prog, msg)
    raise Exit(code)


def _usage(prog: str, mode: str, code: int):
    _errx(prog, f"Usage: {prog} {USAGE[mode]}", code)


def getopt(prog: str, mode: str, argv: list[str]) -> tuple[dict, list[str]]:
    """GNU getopt_long with permutation: options anywhere until `--`."""
    opts: dict = {}
    rest: list[str] = []
    longs = {**LONG, **JSON_LONG} if mode == "ls" else LONG
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i + 1:])
            break
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            hits = [k for k in longs if k.startswith(name)] if name else []
            if name in longs:
                hits = [name]
            if len(hits) != 1:
                _warnx(prog, f"{'unrecognized' if not hits else 'ambiguous'} option '{a}'")
                i += 1
                continue
            letter = longs[hits[0]]
            if letter in WITH_ARG and not eq:
                i += 1
                if i >= len(argv):
                    _warnx(prog, f"option '--{hits[0]}' requires an argument")
                    break
                val = argv[i]
            _apply(prog, mode, opts, letter, val)
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                if c not in "hfspturn:Rd:T:".replace(":", "") :
                    _warnx(prog, f"invalid option -- '{c}'")
                    j += 1
                    continue
                if c in WITH_ARG:
                    val = a[j + 1:]
                    if not val:
                        i += 1
                        if i >= len(argv):
                            _warnx(prog, f"option requires an argument -- '{c}'")
                            break
                        val = argv[i]
                    _apply(prog, mode, opts, c, val)
                    break
                _apply(prog, mode, opts, c, None)
                j += 1
        else:
            rest.append(a)
        i += 1
    return opts, rest


def _txid(prog: str, text: str) -> int:
    """A transaction id (xs_transaction_t, a uint32_t) in decimal digits;
    anything else is one line and exit 1."""
    digits = text.lstrip("0")
    if not text or any(ch not in "0123456789" for ch in text) or len(digits) > 10 \
            or int(digits or "0") > UINT32_MAX:
        _errx(prog, f"invalid transaction id '{text}'")
    return int(digits or "0")


def _apply(prog: str, mode: str, opts: dict, c: str, val: str | None) -> None:
    if c == "h":
        _usage(prog, mode, 0)
    if c == "s":
        return  # accepted and ignored since the socket-only option went away
    if mode not in ALLOWED[c]:
        _usage(prog, mode, 1)
    if c in ("n", "d"):
        opts[c] = atoi(val)
    elif c == "T":
        opts["T"] = _txid(prog, val)
    else:
        opts[c] = True


# --- escaping -----------------------------------------------------------------


def sanitise(value: bytes) -> str:
    out = []
    for c in value:
        if 0x20 <= c <= 0x7E and c != 0x5C:
            out.append(chr(c))
        elif c == 9:
            out.append("\\t")
        elif c == 10:
            out.append("\\n")
        elif c == 13:
            out.append("\\r")
        elif c == 0x5C:
            out.append("\\\\")
        elif c < 8:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


def unsanitise(text: str) -> bytes:
    src = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(src):
        c = src[i]
        i += 1
        if c == 0:
            break
        if c != 0x5C:
            out.append(c)
            continue
        if i >= len(src):
            out.append(0x5C)  # a trailing backslash stays
            break
        e = src[i]
        i += 1
        simple = {ord("t"): 9, ord("n"): 10, ord("r"): 13, 0x5C: 0x5C}
        if e in simple:
            out.append(simple[e])
        elif e == ord("x"):
            digits = b""
            while len(digits) < 2 and i < len(src) and chr(src[i]) in "0123456789abcdefABCDEF":
                digits += src[i:i + 1]
                i += 1
            out.append(int(digits, 16) if digits else ord("x"))
        elif ord("0") <= e <= ord("7"):
            i -= 1
            digits = b""
            while len(digits) < 3 and i < len(src) and ord("0") <= src[i] <= ord("7"):
                digits += src[i:i + 1]
                i += 1
            out.append(int(digits, 8) & 0xFF)
        else:
            out.append(e)
    return bytes(out)


# --- the command --------------------------------------------------------------


def _run(ctx, mode: str, argv: list[str]) -> int:
    prog = f"xenstore-{mode}"
    try:
        opts, args = getopt(prog, mode, list(argv))
        if mode == "write" and len(args) % 2 == 1:
            _usage(prog, mode, 1)
        if mode != "ls" and not args:
            _usage(prog, mode, 1)
        if mode == "watch":
            return _watch(ctx, prog, opts, args)
        return _perform_all(ctx, prog, mode, opts, args)
    except Exit as e:
        return e.code


def _transactional(mode: str, args: list[str]) -> bool:
    if mode == "read":
        return len(args) > 1
    if mode == "write":
        return len(args) > 2
    return mode not in ("ls", "watch")


def _perform_all(ctx, prog, mode, opts, args) -> int:
    if mode == "read" and len(args) == 1 and "T" not in opts:
        ret = _peek_read(ctx, prog, opts, args[0])
        if ret is not None:
            return ret
    own_tx = _transactional(mode, args) and "T" not in opts
    write = own_tx or mode in ("write", "rm", "chmod")
    with session(ctx, write=write, privileged=False) as libxl:
        while True:
            tx = opts.get("T", 0)
            if own_tx:
                try:
                    tx = libxl.xs_transaction_start()
                except XenStoreError:
                    _errx(prog, "couldn't start transaction")
            out: list = []
            try:
                ret = _perform(libxl, tx, prog, mode, opts, args, out)
            except Exit:
                if own_tx:
                    libxl.xs_transaction_end(tx, abort=True)
                raise
            if own_tx:
                try:
                    libxl.xs_transaction_end(tx, abort=ret != 0)
                except XenStoreError as e:
                    if ret == 0 and e.errno == "EAGAIN":
                        continue
                    _errx(prog, "couldn't end transaction")
            break
    _emit(out)
    return ret


def _peek_read(ctx, prog, opts, key) -> int | None:
    """xenstore-read of one key from the stored state, when nothing needs
    simulating first (dom0 only); None sends it down the full path."""
    from pyxl.cli.base import globals_of
    from pyxl.toolstack import peek_libxl

    g = globals_of(ctx)
    out: list = []
    with peek_libxl(g.host, caller=g.as_domid) as peek:
        if peek is None:
            return None
        ret = _read(peek.xs_read, prog, key, opts, out)
    _emit(out)
    return ret


def _emit(out: list) -> None:
    """The output gathered while the store was open: text, or raw bytes (-R)."""
    for chunk in out:
        if isinstance(chunk, bytes):
            sys.stdout.flush()
            buf = getattr(sys.stdout, "buffer", None)
            if buf is not None:
                buf.write(chunk)
                buf.flush()
            else:
                sys.stdout.write(chunk.decode("latin-1"))
        else:
            sys.stdout.write(chunk)


def _perform(libxl, tx, prog, mode, opts, args, out) -> int:
    if mode == "ls":
        _ls_all(libxl, tx, prog, opts, args or ["/"])
        return 0
    i = 0
    while i < len(args):
        key = args[i]
        if mode == "read":
            if _read(lambda path: libxl.xs_read(path, tx), prog, key, opts, out):
                return 1
        elif mode == "write":
            raw = args[i + 1]
            val = raw.encode("utf-8", "surrogateescape") if opts.get("R") else unsanitise(raw)
            try:
                libxl.xs_write(key, val, tx)
            except XenStoreError:
                _warnx(prog, f"could not write path {key}")
                return 1
            i += 1
        elif mode == "rm":
            if _rm(libxl, tx, prog, key, opts.get("t")):
                return 1
        elif mode == "exists":
            try:
                libxl.xs_read(key, tx)
            except XenStoreError:
                return 1
        elif mode == "list":
            try:
                names = libxl.xs_directory(key, tx)
            except XenStoreError:
                _warnx(prog, f"could not list path {key}")
                return 1
            pref = "" if key == "/" else key
            for name in names:
                out.append(f"{pref}/{name}\n" if opts.get("p") else f"{name}\n")
        elif mode == "chmod":
            _chmod_args(libxl, tx, prog, key, args[i + 1:], opts)
            return 0
        i += 1
    return 0


def _read(xs_read, prog, key, opts, out) -> int:
    """One key of xenstore-read into `out`; 1 (warned) if it cannot be read."""
    try:
        val = xs_read(key)
    except XenStoreError:
        _warnx(prog, f"couldn't read path {key}")
        return 1
    if opts.get("p"):
        out.append(f"{key}: ")
    out.append(val if opts.get("R") else sanitise(val) + "\n")
    return 0


def _rm(libxl, tx, prog, path, tidy) -> int:
    while True:
        try:
            libxl.xs_rm(path, tx)
        except XenStoreError:
            _warnx(prog, f"could not remove path {path}")
            return 1
        if not tidy or "/" not in path:
            return 0
        path = path[:path.rfind("/")]
        try:
            if libxl.xs_read(path, tx) != b"" or libxl.xs_directory(path, tx):
                return 0
        except XenStoreError:
            return 0


def _chmod_args(libxl, tx, prog, path, specs, opts) -> None:
    from pyxl.toolstack.xs import Perm

    perms = []
    for spec in specs:
        if spec[:1] not in ("n", "r", "w", "b"):
            _errx(prog, f"Invalid permission specification: '{spec[:1]}'")
        perms.append(Perm(atoi(spec[1:]) & 0xFFFF, spec[0]))
    _chmod(libxl, tx, prog, path, perms, opts.get("u"), opts.get("r"))


def _chmod(libxl, tx, prog, path, perms, upto, recurse) -> None:
    if not path:
        return
    try:
        libxl.xs_set_permissions(path, perms, tx)
    except XenStoreError as e:
        _errx(prog, f"Error occurred setting permissions on '{path}': {e.message}")
    if upto:
        if "/" not in path:
            _errx(prog, f"Unable to locate path separator '/' in '{path}'")
        _chmod(libxl, tx, prog, path[:path.rfind("/")], perms, True, False)
    if recurse:
        try:
            kids = libxl.xs_directory(path, tx)
        except XenStoreError:
            kids = []
        for kid in kids:
            _chmod(libxl, tx, prog, f"{path}/{kid}"[:255], perms, False, True)


def _width() -> int:
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns - 2
    except OSError:
        pass
    return 80


def _ls_all(libxl, tx, prog, opts, paths) -> None:
    if opts.get("j"):
        _ls_json(libxl, tx, prog, paths)
        return
    flat = bool(opts.get("f"))
    max_width = (2**31 - 1) // 2 if flat else _width()
    desired = 0 if flat else 60
    for path in paths:
        _ls(libxl, tx, prog, path, bool(opts.get("p")), flat, max_width, desired)


def _ls(libxl, tx, prog, path, show_perms, flat, max_width, desired) -> None:
    from pyxl.toolstack.xs import format_perms

    w = sys.stdout.write
    for newpath, e in ls_nodes(libxl, tx, prog, path):
        if flat:
            w(newpath)
            linewid = 0
        else:
            w(" " * e.depth)
            prec = max_width - TAG_LEN - e.depth
            name = e.name if prec < 0 else e.name[:prec]
            w(name)
            linewid = e.depth + len(name)
        if e.value is None:
            w(":\n")
            if show_perms:
                _warnx(prog, f"\ncould not access permissions for {e.name}: Permission denied")
            w("\n")
            _errx(prog, f"xs_directory ({newpath}): Permission denied")
        text = sanitise(e.value)
        if max_width < linewid + len(e.value) + TAG_LEN:
            prec = max_width - TAG_LEN - linewid
            w(f' = "{text if prec < 0 else text[:prec]}\\..."')
        else:
            piece = f' = "{text}"'
            w(piece)
            linewid += len(piece)
            if show_perms:
                w(" ")
                linewid += 1
                pad = []
                while linewid < min(desired, max_width):
                    pad.append("." if linewid & 1 else " ")
                    linewid += 1
                w("".join(pad))
        if show_perms:
            w(f"  ({format_perms(e.perms)})")
        w("\n")


def ls_nodes(libxl, tx, prog, path) -> list[tuple[str, object]]:
    """(full path, node) of every node below `path`, in xenstore-ls order,
    each path as `xenstore-ls -f` prints it."""
    try:
        entries = libxl.xs_walk(path, tx)
    except XenStoreError as e:
        _errx(prog, f"xs_directory ({path}): {e.message}")
    base_depth: dict[int, str] = {}
    nodes = []
    for e in entries:
        parent_shown = path if e.depth == 0 else base_depth[e.depth - 1]
        newpath = parent_shown + ("" if parent_shown.endswith("/") else "/") + e.name
        base_depth[e.depth] = newpath
        nodes.append((newpath, e))
    return nodes


def _ls_json(libxl, tx, prog, paths) -> None:
    """xenstore-ls --json: one object per node, its value escaped as ls
    prints it (never cut to the terminal's width) and its permissions."""
    from pyxl.cli.base import dumps
    from pyxl.toolstack.xs import format_perms

    rows = []
    for path in paths:
        for newpath, e in ls_nodes(libxl, tx, prog, path):
            if e.value is None:
                _errx(prog, f"xs_directory ({newpath}): Permission denied")
            rows.append({"path": newpath, "value": sanitise(e.value),
                         "perms": format_perms(e.perms).split(",")})
    sys.stdout.write(dumps(rows))


# --- watch --------------------------------------------------------------------

WATCH_POLL_S = 0.05


def _watch(ctx, prog, opts, args) -> int:
    """xenstore-watch: its own connection, polled in one transaction at a time."""
    import signal
    import time

    depth = opts.get("d", -1)
    limit = opts.get("n", -1)
    with session(ctx, write=True, privileged=False) as libxl:
        handle = libxl.xs_open("xenstore-watch")
        for path in args:
            try:
                libxl.xs_watch(handle, path, path, None if depth < 0 else depth)
            except XenStoreError:
                extra = f" with depth {depth}" if depth >= 0 else ""
                _errx(prog, f"Unable to add watch on {path}{extra}\n")
    seq = handle.opened_seq

    terminated = []

    def stop(signum, _frame):
        terminated.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    count = 0
    try:
        while limit == -1 or count < limit:
            with session(ctx, write=False, privileged=False) as libxl:
                events = libxl.xs_check_watch(handle, since_seq=seq)
            for ev in events:
                seq = max(seq, ev.seq)
                if limit != -1 and count >= limit:
                    break
                sys.stdout.write(ev.path + "\n")
                sys.stdout.flush()
                count += 1
            if limit == -1 or count < limit:
                time.sleep(WATCH_POLL_S)
    except KeyboardInterrupt:
        if not terminated:
            raise
    finally:
        signal.signal(signal.SIGTERM, old)
        with session(ctx, write=True, privileged=False) as libxl:
            libxl.xs_close(handle)
    if terminated:  # its watches are gone; now die of the signal, as the real one does
        import os

        os.kill(os.getpid(), signal.SIGTERM)
    return 0


# --- transactions (pyxl extension) --------------------------------------------


def _transaction(ctx, argv: list[str]) -> int:
    prog = "xenstore-transaction"
    if not argv or argv[0] not in ("start", "commit", "abort") or \
            (argv[0] != "start" and len(argv) != 2):
        _warnx(prog, f"Usage: {prog} start | commit TXID | abort TXID")
        return 1
    try:
        txid = _txid(prog, argv[1]) if argv[0] != "start" else 0
    except Exit as e:
        return e.code
    with session(ctx, write=True, privileged=False) as libxl:
        if argv[0] == "start":
            try:
                txid = libxl.xs_transaction_start()
            except XenStoreError:
                _warnx(prog, "couldn't start transaction")
                return 1
            sys.stdout.write(f"{txid}\n")
            return 0
        try:
            libxl.xs_transaction_end(txid, abort=argv[0] == "abort")
        except XenStoreError as e:
            what = "commit" if argv[0] == "commit" else "abort"
            _warnx(prog, f"couldn't {what} transaction {txid}: {e.message} ({e.errno})")
            return 1
    return 0


def _cmd(mode: str):
    @click.command(f"xenstore-{mode}", add_help_option=False,
                   context_settings={"ignore_unknown_options": True,
                                     "allow_interspersed_args": False})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    @click.pass_context
    def command(ctx, argv):
        if mode == "transaction":
            return _transaction(ctx, list(argv))
        return _run(ctx, mode, list(argv))
    return command


cmd_xenstore_ls = _cmd("ls")
cmd_xenstore_read = _cmd("read")
cmd_xenstore_write = _cmd("write")
cmd_xenstore_rm = _cmd("rm")
cmd_xenstore_list = _cmd("list")
cmd_xenstore_exists = _cmd("exists")
cmd_xenstore_chmod = _cmd("chmod")
cmd_xenstore_watch = _cmd("watch")
cmd_xenstore_transaction = _cmd("transaction")
