"""xl.conf, xl's global configuration (xl.c parse_global_config).

The file uses libxlutil's syntax (pyxl/toolstack/libxlu_cfg.py); this
module knows which keys xl reads from it and their defaults.
"""

from __future__ import annotations

from errno import ESRCH

from pyxl.cnum import INT_MAX
from pyxl.errors import PyxlError
from pyxl.toolstack.libxlu_cfg import parse_cfg


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class GlobalConfig:
    """The xl.conf keys xl reads (xl.c parse_global_config), with defaults."""

    def __init__(
        self,
        autoballoon: str = "auto",  # "on" | "off" | "auto"
        run_hotplug_scripts: int = 1,
        lockfile: str = "/var/lock/xl",
        vif_default_script: str | None = None,
        vif_default_bridge: str | None = None,
        vif_default_gatewaydev: str | None = None,
        vif_default_backend: str | None = None,
        output_format: str = "json",
        blkdev_start: str | None = None,
        claim_mode: int = 1,
        remus_default_netbufscript: str | None = None,
        colo_default_proxyscript: str | None = None,
        max_grant_frames: int | None = None,
        max_maptrack_frames: int | None = None,
        max_grant_version: int | None = None,
        vm_cpumask: str | None = None,
        vm_hvm_cpumask: str | None = None,
        vm_pv_cpumask: str | None = None,
        domid_policy: str = "xen",
        bootloader_restrict: bool | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.autoballoon = autoballoon
        self.run_hotplug_scripts = run_hotplug_scripts
        self.lockfile = lockfile
        self.vif_default_script = vif_default_script
        self.vif_default_bridge = vif_default_bridge
        self.vif_default_gatewaydev = vif_default_gatewaydev
        self.vif_default_backend = vif_default_backend
        self.output_format = output_format
        self.blkdev_start = blkdev_start
        self.claim_mode = claim_mode
        self.remus_default_netbufscript = remus_default_netbufscript
        self.colo_default_proxyscript = colo_default_proxyscript
        self.max_grant_frames = max_grant_frames
        self.max_maptrack_frames = max_maptrack_frames
        self.max_grant_version = max_grant_version
        self.vm_cpumask = vm_cpumask
        self.vm_hvm_cpumask = vm_hvm_cpumask
        self.vm_pv_cpumask = vm_pv_cpumask
        self.domid_policy = domid_policy
        self.bootloader_restrict = bootloader_restrict
        self.warnings = [] if warnings is None else warnings


def parse_global_config(text: str, source: str) -> GlobalConfig:
    """Read xl.conf; warnings are returned in ``.warnings``, not printed.

    A syntax error raises CfgSyntaxError; real xl then adds
    ``Failed to parse config file: Invalid argument`` and exits 1. A bad
    ``max_*_frames`` value exits 1 silently in xl: PyxlError with the
    libxlutil warning as message.
    """
    cfg = parse_cfg(text, source)
    g = GlobalConfig()
    buf = cfg.get_string("autoballoon")
    if buf is not None:
        if buf in ("on", "1"):
            g.autoballoon = "on"
        elif buf in ("off", "0"):
            g.autoballoon = "off"
        elif buf == "auto":
            g.autoballoon = "auto"
        else:
            cfg.report.append("invalid autoballoon option")
    v = cfg.get_long("run_hotplug_scripts")
    if v is not None:
        g.run_hotplug_scripts = v
    buf = cfg.get_string("lockfile")
    if buf is not None:
        g.lockfile = buf
    buf = cfg.get_string("vifscript")
    if buf is not None:
        cfg.report.append("the global config option vifscript is deprecated, "
                          "please switch to vif.default.script")
        g.vif_default_script = buf
    buf = cfg.get_string("vif.default.script")
    if buf is not None:
        g.vif_default_script = buf
    buf = cfg.get_string("defaultbridge")
    if buf is not None:
        cfg.report.append("the global config option defaultbridge is deprecated, "
                          "please switch to vif.default.bridge")
        g.vif_default_bridge = buf
    buf = cfg.get_string("vif.default.bridge")
    if buf is not None:
        g.vif_default_bridge = buf
    g.vif_default_gatewaydev = cfg.get_string("vif.default.gatewaydev")
    g.vif_default_backend = cfg.get_string("vif.default.backend")
    buf = cfg.get_string("output_format")
    if buf is not None:
        if buf in ("json", "sxp"):
            g.output_format = buf
        else:
            cfg.report.append(f'invalid default output format "{buf}"')
    g.blkdev_start = cfg.get_string("blkdev_start")
    v = cfg.get_long("claim_mode")
    if v is not None:
        g.claim_mode = v
    g.remus_default_netbufscript = cfg.get_string("remus.default.netbufscript")
    g.colo_default_proxyscript = cfg.get_string("colo.default.proxyscript")
    for key, attr in (("max_grant_frames", "max_grant_frames"),
                      ("max_maptrack_frames", "max_maptrack_frames"),
                      ("max_grant_version", "max_grant_version")):
        rc, v = cfg.get_bounded_long_rc(key, 0, INT_MAX, dont_warn=True)
        if rc == 0:
            setattr(g, attr, v)
        elif rc != ESRCH:
            cfg.get_bounded_long_rc(key, 0, INT_MAX)    # for the message
            raise PyxlError(cfg.report[-1] if cfg.report else
                            f"{source}: invalid {key}", 1)
    g.vm_cpumask = cfg.get_string("vm.cpumask")
    g.vm_hvm_cpumask = cfg.get_string("vm.hvm.cpumask")
    g.vm_pv_cpumask = cfg.get_string("vm.pv.cpumask")
    buf = cfg.get_string("domid_policy")
    if buf is not None:
        if buf in ("xen", "random"):
            g.domid_policy = buf
        else:
            cfg.report.append("invalid domid_policy option")
    g.bootloader_restrict = cfg.get_defbool("bootloader_restrict")
    g.warnings = list(cfg.report)
    return g


def host_global_config(host_name: str | None) -> GlobalConfig:
    """The simulated host's /etc/xen/xl.conf: `xl.conf` in its state
    directory (`host_name` as -H gives it, None for the current host). A
    host without one has xl's defaults; one xl cannot parse counts as
    absent, as xl carries on with its defaults."""
    from pyxl.sim.peek import current_host_name
    from pyxl.state.paths import host_dir

    try:
        path = host_dir(current_host_name(host_name)) / "xl.conf"
        text = path.read_text(errors="surrogateescape")
    except OSError:
        return GlobalConfig()
    try:
        return parse_global_config(text, "/etc/xen/xl.conf")
    except PyxlError:
        return GlobalConfig()
