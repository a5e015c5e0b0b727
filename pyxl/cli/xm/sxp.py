"""`xm list --long`: a domain as xend's SXP, laid out as xend's PrettyPrint did
(a form that fits in 80 columns stays on one line; a longer one puts each
child on its own line, four spaces in, and its `)` under its `(`)."""

from __future__ import annotations

import json

from pyxl.cli.xm.common import xm_state

WIDTH = 80
_SPECIAL = set(" \t\n()'\"\\")


def atom(value) -> str:
    text = str(value)
    if not any(c in _SPECIAL for c in text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def flat(form) -> str:
    if isinstance(form, list):
        return "(" + " ".join(flat(x) for x in form) + ")"
    return atom(form)


def _pp(form, column: int) -> str:
    text = flat(form)
    if not isinstance(form, list) or column + len(text) <= WIDTH or len(form) < 2:
        return text
    inner = column + 4
    parts = ["(" + _pp(form[0], column + 1)]
    parts += ["\n" + " " * inner + _pp(x, inner) for x in form[1:]]
    return "".join(parts) + "\n" + " " * column + ")"


def pretty(form) -> str:
    return _pp(form, 0) + "\n"


def domain_sxp(libxl, info) -> list:
    """(domain (domid N) (name ...) ... (device (vif ...)) (device (vbd ...)))."""
    domid = info.domid
    entry = json.loads(libxl.list_long_json([domid]))[0]
    config = entry.get("config", {})
    c_info, b_info = config.get("c_info", {}), config.get("b_info", {})
    sched = b_info.get("sched_params", {})
    name = libxl.domid_to_name(domid) or c_info.get("name", "")
    form = ["domain", ["domid", domid],
            ["cpu_weight", sched.get("weight", 256)], ["cpu_cap", sched.get("cap", 0)],
            ["uuid", c_info.get("uuid", info.uuid)],
            ["on_poweroff", config.get("on_poweroff", "destroy")],
            ["on_reboot", config.get("on_reboot", "restart")],
            ["on_crash", config.get("on_crash", "destroy")],
            ["name", name],
            ["memory", info.current_memkb // 1024],
            ["maxmem", b_info.get("max_memkb", info.max_memkb) // 1024],
            ["vcpus", b_info.get("max_vcpus", info.vcpu_max_id + 1)],
            ["online_vcpus", info.vcpu_online],
            ["state", xm_state(info)],
            ["cpu_time", round(info.cpu_time_ns / 1e9, 6)]]
    image = [c_info.get("type", "pv") if c_info.get("type") != "pv" else "linux"]
    for key in ("kernel", "ramdisk", "cmdline"):
        if b_info.get(key):
            image.append([key, b_info[key]])
    form.append(["image", image])
    for nic in config.get("nics", []):
        devid = nic.get("devid", 0)
        vif = ["vif", ["backend", nic.get("backend_domid", 0)],
               ["mac", nic.get("mac", "")],
               ["bridge", nic.get("bridge", "xenbr0")],
               ["script", nic.get("script", "vif-bridge")],
               ["vifname", nic.get("ifname", f"vif{domid}.{devid}")],
               ["devid", devid]]
        if nic.get("ip"):
            vif.append(["ip", nic["ip"]])
        form.append(["device", vif])
    for disk in config.get("disks", []):
        mode = "w" if disk.get("readwrite", 1) else "r"
        prefix = "file:" if disk.get("backend") == "qdisk" else "phy:"
        form.append(["device", ["vbd", ["backend", disk.get("backend_domid", 0)],
                                ["dev", disk.get("vdev", "")],
                                ["uname", prefix + str(disk.get("pdev_path", ""))],
                                ["mode", mode]]])
    return form
