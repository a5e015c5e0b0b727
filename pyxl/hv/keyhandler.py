"""Xen's debug keys (xen/common/keyhandler.c): what `xl debug-keys` asks for.

Each key's handler prints into Xen's console ring, which `xl dmesg` reads;
a key with no handler is ignored, as Xen's handle_keypress ignores it.
"""

from __future__ import annotations


def _dump_evtchn(hv, key: str) -> None:
    from pyxl.hv import evtchn

    hv.log(f"'{key}' pressed -> dumping event-channel info")
    for domid in sorted(hv.domains):
        for line in evtchn.dump(hv.domains[domid]):
            hv.log(line)


def _dump_gnttab(hv, key: str) -> None:
    from pyxl.hv import gnttab

    hv.log(f"gnttab_usage_print_all [ key '{key}' pressed")
    for domid in sorted(hv.domains):
        d = hv.domains[domid]
        for line in gnttab.dump(d, gnttab.maptrack_frames(d)):
            hv.log(line)
    hv.log("gnttab_usage_print_all ] done")


HANDLERS = {"e": _dump_evtchn, "g": _dump_gnttab}


def handle(hv, keys: str) -> None:
    """XEN_SYSCTL_debug_keys: each key in turn."""
    for key in keys:
        handler = HANDLERS.get(key)
        if handler is not None:
            handler(hv, key)
