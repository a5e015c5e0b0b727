"""xl save, restore, suspend and resume (xl_saverestore.c, and the restore
half of xl_vmcontrol.c's create_domain, which migrate-receive shares)."""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, print_help_and_fail, session, xl_command
from pyxl.errors import PyxlError

SAVED = "<saved>"


@xl_command("save")
@click.option("-c", "checkpoint", is_flag=True)
@click.option("-p", "leave_paused", is_flag=True)
@click.option("-D", "preserve_domid", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_save(ctx, checkpoint, leave_paused, preserve_domid, args):
    import os

    from pyxl.toolstack.stream import encode_save_header, save_header

    need_args("save", args, 2)
    if len(args) > 3:
        return print_help_and_fail("save")
    filename = args[1]
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        config, data = save_config(libxl, domid, preserve_domid,
                                   args[2] if len(args) > 2 else None)
    header = save_header(data)
    try:
        fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        raise PyxlError(f"Failed to open temp file {filename} for writing") from None
    with os.fdopen(fd, "wb") as f:
        f.write(encode_save_header(header))
        err(f"Saving to {filename} new xl format (info {header.info})")
        rc = suspend_into(ctx, domid, f, config, override=len(args) > 2)
    with session(ctx, write=True) as libxl:
        if rc < 0:
            err("Failed to save domain, resuming domain")
            libxl.domain_resume(domid)
            return 1
        if leave_paused or checkpoint:
            if leave_paused:
                libxl.domain_pause(domid)
            libxl.domain_resume(domid)
        else:
            libxl.domain_destroy(domid)
    return 0


def save_config(libxl, domid: int, preserve_domid: bool, override: str | None):
    """save_domain_core_begin: the config to embed, typed and as libxl's JSON."""
    if override is None:
        got = libxl.retrieve_domain_configuration(domid, preserve_domid)
        if got is None:
            raise PyxlError("unable to retrieve domain configuration")
        return got
    from pyxl.toolstack import read_config_text

    try:
        text = read_config_text(override)
    except PyxlError:
        raise PyxlError("unable to read overridden config file") from None
    loaded = libxl.parse_config(text, override)
    for warning in loaded.warnings:
        err(warning)
    return loaded.config, libxl.config_to_json(loaded.config)


def suspend_into(ctx, domid: int, out, config, override: bool = False) -> int:
    """libxl_domain_suspend into `out`: the guest suspends, then its stream
    is written; 0, or the libxl rc (its lines already out)."""
    from pyxl.errors import ERROR_FAIL
    from pyxl.toolstack.libxl import domain_suspend

    rc = domain_suspend(lambda: session(ctx, write=True), domid)
    if rc:
        return rc
    try:
        with session(ctx, write=True) as libxl:
            libxl.domain_suspend_image(domid, out, config, override)
    except (OSError, BrokenPipeError) as e:
        err(f"libxl: error: libxl_stream_write.c:424:stream_failed: Domain {domid}:"
            f"failed to write stream: {e.strerror or e}")
        return ERROR_FAIL
    return 0


@xl_command("restore")
@click.option("-A", "--vncviewer-autopass", "vnc_autopass", is_flag=True)
@click.option("-F", "foreground", is_flag=True)
@click.option("-V", "--vncviewer", "vnc", is_flag=True)
@click.option("-c", "console", is_flag=True)
@click.option("-d", "debug", is_flag=True)
@click.option("-e", "no_monitor", is_flag=True)
@click.option("-p", "paused", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_restore(ctx, vnc_autopass, foreground, vnc, console, debug, no_monitor, paused, args):
    need_args("restore", args, 1)
    if len(args) > 2:
        return print_help_and_fail("restore")
    config_file, path = (None, args[0]) if len(args) == 1 else args
    try:
        f = open(path, "rb")
    except OSError as e:
        raise PyxlError(f"Can't open restore file: {e.strerror}") from None
    with f:
        try:
            domid, name = restore_from(ctx, f, path, config_file, paused=paused,
                                       monitored=not no_monitor, debug=debug)
        except PyxlError as e:  # main_restore: any failure of create_domain is 1
            e.exit_code = 1
            raise
    if console:
        from pyxl.cli.console import cmd_console

        return cmd_console.main(args=[str(domid)], prog_name="console",
                                standalone_mode=False, obj=ctx.obj)
    if foreground and not no_monitor:
        from pyxl.cli.wait import wait_for_death

        wait_for_death(ctx, domid, name)
    return 0


def read_header(f, source: str):
    """xl's reading of the save header, with each of its messages; PyxlError
    (exit 1) for a file it refuses. Returns (header, config bytes or None)."""
    import struct

    from pyxl.toolstack import stream as st

    raw = st.read_upto(f, st.HEADER_SIZE)
    if len(raw) < st.HEADER_SIZE:
        raise PyxlError("libxl: error: libxl_utils.c:494:libxl_read_exactly: "
                        f"file/stream truncated reading header from {source}")
    if raw[:32] != st.SAVEFILE_MAGIC:
        raise PyxlError("File has wrong magic number - corrupt or for a different tool?")
    byteorder, mandatory, optional, optlen = struct.unpack("=IIII", raw[32:])
    if byteorder != st.SAVEFILE_BYTEORDER_VALUE:
        raise PyxlError("File has wrong byte order")
    err(f"Loading new save file {source} (new xl fmt info "
        f"0x{mandatory:x}/0x{optional:x}/{optlen})")
    bad = mandatory & ~st.XL_MANDATORY_FLAG_ALL
    if bad:
        raise PyxlError(f"Savefile has mandatory flag(s) 0x{bad:x} which are not supported; "
                        "need newer xl")
    data = st.read_upto(f, optlen)
    if len(data) < optlen:
        raise PyxlError("libxl: error: libxl_utils.c:494:libxl_read_exactly: "
                        f"file/stream truncated reading optdata from {source}")
    header = st.SaveHeader(mandatory, optional, data)
    if not data:
        return header, None
    err(" Savefile contains xl domain config"
        f"{' in JSON format' if mandatory & st.XL_MANDATORY_FLAG_JSON else ''}")
    try:
        return header, st.config_of(header)
    except st.StreamError as e:
        raise PyxlError(e.message) from None


def restore_from(ctx, f, source: str, config_file: str | None, *, paused: bool,
                 monitored: bool, debug: bool = False, incoming: bool = False,
                 quiet: bool = False) -> tuple[int, str]:
    """create_domain's restore path: header, config, stream, then the domain
    (named NAME--incoming for a migration). Every check is made before the
    host changes. Returns (domid, name)."""
    from pyxl.toolstack import stream as st
    from pyxl.toolstack.saverestore import read_image

    header, data = read_header(f, source)
    text = libxl_obj = None
    if config_file is not None:
        from pyxl.toolstack import read_config_text

        text = read_config_text(config_file)
    elif data is None:
        raise PyxlError("Config file not specified and none in save file")
    if not quiet:
        err(f"Parsing config from {config_file if config_file is not None else SAVED}")
    if text is None:
        libxl_obj = _json_config(data, bool(header.mandatory_flags & st.XL_MANDATORY_FLAG_JSON))
    try:
        image = read_image(f)
    except st.StreamError as e:
        raise PyxlError(f"{e.context}: error: {e.where}: {e.message}") from None
    with session(ctx, write=True) as libxl:
        if text is not None:
            loaded = libxl.parse_config(text, config_file)
            for warning in loaded.warnings:
                err(warning)
            config = loaded.config
        else:
            try:
                config = libxl.restore_config(image, libxl_obj)
            except st.StreamError as e:
                raise PyxlError(f"{e.context}: error: {e.where}: {e.message}") from None
        if incoming:
            config.name = f"{config.name}--incoming"
        if debug:
            from pyxl.toolstack import dryrun_json

            err(dryrun_json(config).rstrip("\n"))
        keep = _kept_domid(libxl_obj)
        domid = libxl.domain_create_restore(config, image, paused=paused, monitored=monitored,
                                            domid=keep)
        name = config.name
    return domid, name


def _json_config(data: bytes, is_json: bool) -> dict | None:
    """libxl_domain_config_from_json of the embedded config (None: not JSON)."""
    import json

    if not is_json:
        return None
    try:
        obj = json.loads(data.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        raise PyxlError("libxl: error: libxl_json.c:1084:libxl__json_parse: "
                        "yajl error: the saved domain config is not a JSON object")
    return obj


def _kept_domid(obj: dict | None) -> int | None:
    """c_info.domid of a config saved with -D (a valid guest domid), else None."""
    c_info = obj.get("c_info") if isinstance(obj, dict) else None
    domid = c_info.get("domid") if isinstance(c_info, dict) else None
    if isinstance(domid, int) and not isinstance(domid, bool) and 0 < domid < 0x7FF0:
        return domid
    return None


@xl_command("suspend")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_suspend(ctx, args):
    """libxl_domain_suspend_only: the guest suspends to RAM and stays so
    (`---ss-`); xl ignores libxl's rc."""
    from pyxl.toolstack.libxl import domain_suspend

    need_args("suspend", args, 1)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
    domain_suspend(lambda: session(ctx, write=True), domid)
    return 0


@xl_command("resume")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_resume(ctx, args):
    need_args("resume", args, 1)
    with session(ctx, write=True) as libxl:
        libxl.domain_resume(libxl.domain_qualifier_to_domid(args[0]))
    return 0
