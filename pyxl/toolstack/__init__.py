"""What libxl (and xl's parser) does: the only door the command line uses.

`open_libxl(...)` gives a command its `Libxl` (libxl_ctx with libxl's calls
as methods); the functions beside it need no host or span several
transactions. The modules of this package are its implementation: the CLI
imports from here (and `pyxl.toolstack.xs` for the xenstore-* clients' errors
and permission values), never from the layers below.
"""

from pyxl.toolstack.libxl import (
    Libxl,
    boot_host,
    clock_advance,
    clock_show,
    cpu_pct,
    destroy_host,
    dryrun_json,
    list_hosts,
    open_libxl,
    parse_duration,
    parse_mem_size_kb,
    peek_libxl,
    read_config,
    read_config_text,
    require_privileged,
    reset_host,
    summary_counts,
    trigger_from_string,
    wait_for,
    wait_for_death,
    wait_for_pvcontrol_ack,
)

__all__ = [
    "Libxl", "boot_host", "clock_advance", "clock_show", "cpu_pct", "destroy_host",
    "dryrun_json", "list_hosts", "open_libxl", "parse_duration", "parse_mem_size_kb",
    "peek_libxl", "read_config", "read_config_text", "require_privileged", "reset_host",
    "summary_counts", "trigger_from_string", "wait_for", "wait_for_death",
    "wait_for_pvcontrol_ack",
]
