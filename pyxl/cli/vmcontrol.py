"""xl's domain lifecycle commands: create, destroy, pause, unpause, rename,
domid, domname."""

from __future__ import annotations

import click

from pyxl.cli.base import err, globals_of, need_args, out, session, xl_command
from pyxl.cnum import c_uint32, strtol
from pyxl.errors import PyxlError


@xl_command("destroy")
@click.option("-f", "force", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_destroy(ctx, force, args):
    need_args("destroy", args, 1)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        if domid == 0 and not force:
            raise PyxlError("Not destroying domain 0; use -f to force.\n"
                            "This can only be done when using a disaggregated "
                            "hardware domain and toolstack.\n\n")
        libxl.domain_destroy(domid)
    return 0


@xl_command("pause")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pause(ctx, args):
    need_args("pause", args, 1)
    with session(ctx, write=True) as libxl:
        libxl.domain_pause(libxl.domain_qualifier_to_domid(args[0]))
    return 0


@xl_command("unpause")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_unpause(ctx, args):
    need_args("unpause", args, 1)
    with session(ctx, write=True) as libxl:
        libxl.domain_unpause(libxl.domain_qualifier_to_domid(args[0]))
    return 0


@xl_command("rename")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_rename(ctx, args):
    need_args("rename", args, 2)
    with session(ctx, write=True) as libxl:
        libxl.domain_rename(libxl.domain_qualifier_to_domid(args[0]), args[1], args[0])
    return 0


@xl_command("domid")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_domid(ctx, args):
    need_args("domid", args, 1)
    domid = _lookup(ctx, lambda libxl: libxl.name_to_domid(args[0]))
    if domid is None:
        raise PyxlError(f"Can't get domid of domain name '{args[0]}', "
                        "maybe this domain does not exist.")
    out(f"{domid}\n")
    return 0


def _lookup(ctx, query):
    """A name or domid lookup, `query(libxl)`: from the stored state when
    nothing needs to be simulated first (a manual clock), else through the
    command's session."""
    from pyxl.toolstack import peek_libxl

    g = globals_of(ctx)
    with peek_libxl(g.host, caller=g.as_domid) as peek:
        if peek is not None:
            return query(peek)
    with session(ctx, write=False) as libxl:
        return query(libxl)


@xl_command("domname")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_domname(ctx, args):
    need_args("domname", args, 1)
    value, _, _ = strtol(args[0], 10)
    if value is None:
        raise PyxlError("Invalid domain id.\n\n")
    domid = c_uint32(value)  # xl stores strtol's (saturated) long in a uint32_t
    name = _lookup(ctx, lambda libxl: libxl.domid_to_name(domid))
    if name is None:
        raise PyxlError(f"Can't get domain name of domain id '{domid}', "
                        "maybe this domain does not exist.")
    out(f"{name}\n")
    return 0



@xl_command("create")
@click.option("-A", "--vncviewer-autopass", "vnc_autopass", is_flag=True)
@click.option("-F", "foreground", is_flag=True)
@click.option("-V", "--vncviewer", "vnc", is_flag=True)
@click.option("-c", "console", is_flag=True)
@click.option("-d", "debug", is_flag=True)
@click.option("-e", "no_monitor", is_flag=True)
@click.option("-f", "--defconfig", "config_file")
@click.option("-i", "--ignore-global-affinity-masks", "ignore_masks", is_flag=True)
@click.option("-n", "--dryrun", "dryrun", is_flag=True)
@click.option("-p", "paused", is_flag=True)
@click.option("-q", "--quiet", "quiet", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_create(ctx, vnc_autopass, foreground, vnc, console, debug, no_monitor, config_file,
               ignore_masks, dryrun, paused, quiet, args):
    from pyxl.cli.base import globals_of, print_help_and_fail
    from pyxl.toolstack import read_config

    dryrun = dryrun or globals_of(ctx).dryrun
    extra = []
    for arg in args:
        if "=" in arg:
            extra.append(arg)
        elif config_file is None:
            config_file = arg
        else:
            return print_help_and_fail("create", 2)
    text = read_config(config_file, extra)
    if not quiet:
        err(f"Parsing config from {config_file}")
    with session(ctx, write=not dryrun) as libxl:
        loaded = libxl.parse_config(text, config_file)
        for warning in loaded.warnings:
            err(warning)
        if debug or dryrun:
            from pyxl.toolstack import dryrun_json

            text = dryrun_json(loaded.config)
            if dryrun:
                out(text)
                return 0
            err(text)
        failed = None
        try:
            domid = libxl.domain_create_new(loaded.config, paused=paused,
                                            monitored=not no_monitor)
        except PyxlError as e:
            if not getattr(e, "keep_state", False):
                raise
            failed = e    # Xen gave out a domid: the state keeps it used up
    if failed is not None:
        raise failed
    if console:
        from pyxl.cli.console import cmd_console

        return cmd_console.main(args=[str(domid)], prog_name="console",
                                standalone_mode=False, obj=ctx.obj)
    if foreground:
        from pyxl.cli.wait import wait_for_death

        wait_for_death(ctx, domid, loaded.config.name)
    return 0
