"""libxl_psr_*: Intel's Platform Shared Resource features as Xen offers them
(xen/arch/x86/psr.c, reached through xc_psr.c's sysctls and domctls).

A host has PSR only when booted with `--psr` (Xen's psr=): some of cmt, cat,
cdp, mba. Its CPUs are then a Skylake-SP Xeon's, one per socket:

- CMT: 176 RMIDs (RMID 0 is Xen's), events L3 occupancy, total and local
  memory bandwidth (mask 0x7), upscaling factor 65536 bytes.
- CAT: L3 of 28160 KB, cbm_len 11, cos_max 15 (7 with CDP, which halves it).
- MBA: cos_max 7, thrtl_max 90, linear.

Nothing here is random. A monitored domain's L3 occupancy on a socket is the
sum over its online vCPUs on that socket of each vCPU's slice of the L3 (the
L3 size over the socket's cores) times the share of time it has run since
the domain was created, scaled by the fraction of the L3 its CBM allows,
capped by its memory and rounded down to the counter's unit (65536 bytes).
Its memory bandwidth is 1 GB/s per fully busy vCPU, times (100 - THRTL)%;
all of it is local (a socket is a NUMA node here).

State lives in the host's meta, sparse: `psr_rmid` ({domid: [rmid, uuid]})
and `psr_cos` (per socket: the COS registers' values and each domain's
COS). An entry whose domain is gone (or whose domid now names another
domain) counts as freed, as Xen frees them when a domain dies.
"""

from __future__ import annotations

import json

from pyxl.toolstack.ctx import Ctx

ERROR_FAIL = -3
RMID_MAX = 175
EVENT_MASK = 0x7
UPSCALING_FACTOR = 65536
L3_KB = 28160
CBM_LEN = 11
CAT_COS_MAX = 15
CDP_COS_MAX = (CAT_COS_MAX - 1) >> 1
MBA_COS_MAX = 7
MBA_THRTL_MAX = 90
BANDWIDTH_BPS = 1_000_000_000

# libxl_psr_cmt_type: 1 occupancy, 2 total, 3 local memory bandwidth.
CMT_TYPES = {"cache-occupancy": 1, "total-mem-bandwidth": 2, "local-mem-bandwidth": 3}
# libxl_psr_type, and what libxl__psr_alloc_log_err_msg names each.
L3_CBM, L3_CODE, L3_DATA, L2_CBM, MBA_THRTL = 1, 2, 3, 4, 5
FEAT_NAME = {L3_CBM: "L3 CAT", L3_CODE: "CDP", L3_DATA: "CDP", L2_CBM: "L2 CAT",
             MBA_THRTL: "MBA"}
STRERROR = {"ENODEV": "No such device", "EEXIST": "File exists",
            "ENOENT": "No such file or directory", "ESRCH": "No such process",
            "EOVERFLOW": "Value too large for defined data type",
            "EINVAL": "Invalid argument", "ERANGE": "Numerical result out of range"}
CMT_MSG = {"ENODEV": "CMT is not supported in this system",
           "EEXIST": "CMT is already attached to this domain",
           "ENOENT": "CMT is not attached to this domain",
           "EOVERFLOW": "no free RMID available"}
ALLOC_MSG = {"ENODEV": "is not supported in this system",
             "ENOENT": "is not enabled on the socket",
             "EOVERFLOW": "no free COS available",
             "EEXIST": "The same CBM is already set to this domain",
             "ENXIO": "Unable to set code or data CBM when CDP is disabled",
             "EINVAL": "Invalid input or some internal values are not expected",
             "ERANGE": "Socket number is wrong",
             "ENOSPC": "Value array exceeds the range"}
GENERIC_MSG = {"ENOSYS": "unsupported operation", "EOPNOTSUPP": "unsupported operation",
               "ESRCH": "invalid domain ID", "ENOTSOCK": "socket is not supported",
               "EFAULT": "failed to exchange data with Xen"}


class _Errno(Exception):
    def __init__(self, errno: str):
        super().__init__(errno)
        self.errno = errno


class Psr:
    """libxl's PSR calls over one command's host; rc 0 or ERROR_FAIL, logged."""

    def __init__(self, ctx: Ctx):
        self._ctx = ctx
        self._features = set(f for f in ctx.host.boot.psr.split(",") if f)
        phys = ctx.hv.physinfo
        self.nr_sockets = phys.nr_nodes
        self._cores = phys.cores_per_socket

    # --- logging, as libxl_psr.c does it ---

    def _log_cmt(self, errno: str) -> None:
        if errno in CMT_MSG:
            self._ctx.log("error", "libxl_psr.c:71:libxl__psr_cmt_log_err_msg",
                          CMT_MSG[errno], errno=STRERROR.get(errno, errno))
        else:
            self._log_generic(errno)

    def _log_generic(self, errno: str) -> None:
        self._ctx.log("error", "libxl_psr.c:46:libxl__psr_log_err_msg",
                      GENERIC_MSG.get(errno, "unknown error"),
                      errno=STRERROR.get(errno, errno))

    def _log_alloc(self, errno: str, type_: int) -> None:
        if errno in ALLOC_MSG:
            self._ctx.log("error", "libxl_psr.c:123:libxl__psr_alloc_log_err_msg",
                          f"{FEAT_NAME[type_]}: {ALLOC_MSG[errno]}")
        else:
            self._log_generic(errno)

    # --- CMT ---

    def cmt_enabled(self) -> bool:
        return "cmt" in self._features

    def _cmt_check(self) -> None:
        if not self.cmt_enabled():
            raise _Errno("ENODEV")

    def _domain(self, domid: int):
        d = self._ctx.hv.domains.get(domid)
        if d is None:
            raise _Errno("ESRCH")
        return d

    def _rmids(self) -> dict[int, int]:
        """domid -> RMID, for the domains alive now."""
        table = json.loads(self._ctx.host.meta.get("psr_rmid", "{}"))
        live = {}
        for domid, (rmid, uuid) in table.items():
            d = self._ctx.hv.domains.get(int(domid))
            if d is not None and d.uuid == uuid:
                live[int(domid)] = rmid
        return live

    def _save_rmids(self, rmids: dict[int, int]) -> None:
        doms = self._ctx.hv.domains
        self._ctx.host.set_meta("psr_rmid", json.dumps(
            {str(k): [v, doms.get(k).uuid] for k, v in sorted(rmids.items())}))

    def _domain_rmid(self, domid: int) -> int:
        self._cmt_check()
        self._domain(domid)
        return self._rmids().get(domid, 0)

    def cmt_attach(self, domid: int) -> int:
        """XEN_DOMCTL_PSR_CMT_OP_ATTACH: psr_alloc_rmid's lowest free RMID."""
        self._ctx.hv.trace("XEN_DOMCTL_psr_cmt_op", domid=domid, cmd="ATTACH")
        try:
            self._cmt_check()
            self._domain(domid)
            rmids = self._rmids()
            if domid in rmids:
                raise _Errno("EEXIST")
            free = sorted(set(range(1, RMID_MAX + 1)) - set(rmids.values()))
            if not free:
                raise _Errno("EOVERFLOW")
            rmids[domid] = free[0]
            self._save_rmids(rmids)
        except _Errno as e:
            self._log_cmt(e.errno)
            return ERROR_FAIL
        return 0

    def cmt_detach(self, domid: int) -> int:
        self._ctx.hv.trace("XEN_DOMCTL_psr_cmt_op", domid=domid, cmd="DETACH")
        try:
            self._cmt_check()
            self._domain(domid)
            rmids = self._rmids()
            if domid not in rmids:
                raise _Errno("ENOENT")
            del rmids[domid]
            self._save_rmids(rmids)
        except _Errno as e:
            self._log_cmt(e.errno)
            return ERROR_FAIL
        return 0

    def cmt_domain_attached(self, domid: int) -> bool:
        try:
            return self._domain_rmid(domid) > 0
        except _Errno:
            return False

    def cmt_get_total_rmid(self) -> int | None:
        if not self.cmt_enabled():
            self._log_cmt("ENODEV")
            return None
        return RMID_MAX

    def cmt_type_supported(self, type_: int) -> bool:
        if not self.cmt_enabled():
            self._log_cmt("ENODEV")
            return False
        return bool(EVENT_MASK & (1 << (type_ - 1)))

    def cmt_get_l3_cache_size(self, socket: int) -> int | None:
        """XEN_SYSCTL_PSR_CMT_get_l3_cache_size, in KB (CAT hosts ask it too)."""
        if socket >= self.nr_sockets:
            self._ctx.log("error", "libxl_psr.c:218:libxl_psr_cmt_get_l3_cache_size",
                          "failed to get socket cpu", errno="Success")
            return None
        if not self.cmt_enabled():
            self._log_cmt("ENODEV")
            return None
        return L3_KB

    def cmt_get_sample(self, domid: int, type_: int, socket: int) -> int | None:
        """The monitoring counter times the upscaling factor: bytes of L3 for
        occupancy, bytes per second for bandwidth (xl's two samples' rate)."""
        try:
            rmid = self._domain_rmid(domid)
        except _Errno:
            rmid = 0
        if rmid == 0:
            self._ctx.log("error", "libxl_psr.c:267:libxl_psr_cmt_get_sample",
                          "fail to get the domain rmid, or domain is not attached with "
                          "platform QoS monitoring service", domid,
                          errno=STRERROR.get("ENOENT"))
            return None
        d = self._domain(domid)
        activity = self._activity(d, socket)
        if type_ == 1:
            share = self._cbm_share(domid, socket)
            occupancy = int(activity * L3_KB * 1024 // self._cores * share)
            occupancy = min(occupancy, d.tot_memkb * 1024, L3_KB * 1024)
            return occupancy // UPSCALING_FACTOR * UPSCALING_FACTOR
        thrtl = self._value(domid, socket, MBA_THRTL) if "mba" in self._features else 0
        return int(activity * BANDWIDTH_BPS * (100 - thrtl) // 100)

    def _activity(self, d, socket: int) -> float:
        """Busy vCPUs on this socket: the sum of each one's share of time run."""
        now = self._ctx.hv.now_ns
        age = max(now - d.created_ns, 1)
        phys = self._ctx.hv.physinfo
        return sum(min(v.cpu_time / age, 1.0) for v in d.vcpus
                   if v.online and phys.socket_of(v.cpu) == socket)

    def _cbm_share(self, domid: int, socket: int) -> float:
        if "cat" not in self._features and "cdp" not in self._features:
            return 1.0
        type_ = L3_DATA if "cdp" in self._features else L3_CBM
        return bin(self._value(domid, socket, type_)).count("1") / CBM_LEN

    # --- allocation: CAT, CDP, MBA ---

    def _alloc_feats(self) -> dict[str, int]:
        """The allocation features the sockets have, each with its cos_max."""
        feats = {}
        if "cdp" in self._features:
            feats["cdp"] = CDP_COS_MAX
        elif "cat" in self._features:
            feats["cat"] = CAT_COS_MAX
        if "mba" in self._features:
            feats["mba"] = MBA_COS_MAX
        return feats

    @staticmethod
    def _feat_of(type_: int) -> str:
        return {L3_CBM: "cat", L3_CODE: "cdp", L3_DATA: "cdp", L2_CBM: "l2",
                MBA_THRTL: "mba"}[type_]

    def _socket(self, socket: int) -> dict[str, int]:
        """get_socket_info: ENODEV without allocation, ERANGE past the sockets."""
        feats = self._alloc_feats()
        if not feats:
            raise _Errno("ENODEV")
        if socket >= self.nr_sockets:
            raise _Errno("ERANGE")
        return feats

    def hw_info(self, kind: str, lvl: int) -> list[dict] | None:
        """libxl_psr_get_hw_info per socket; None (silently, as libxl) on failure."""
        out = []
        for socket in range(self.nr_sockets):
            try:
                feats = self._socket(socket)
            except _Errno:
                return None
            if kind == "cat":
                feat = "cdp" if "cdp" in feats else "cat"
                if lvl != 3 or feat not in feats:
                    return None
                out.append({"id": socket, "cos_max": feats[feat], "cbm_len": CBM_LEN,
                            "cdp_enabled": feat == "cdp"})
            else:
                if "mba" not in feats:
                    return None
                out.append({"id": socket, "cos_max": MBA_COS_MAX,
                            "thrtl_max": MBA_THRTL_MAX, "linear": True})
        return out

    def _cos_table(self) -> dict:
        return json.loads(self._ctx.host.meta.get("psr_cos", "{}"))

    def _regs(self, socket: int) -> list[dict]:
        """The COS registers' values on a socket: [cos] -> {type: value}."""
        table = self._cos_table().get(str(socket), {})
        regs = [dict(r) for r in table.get("regs", [])]
        default = {str(L3_CBM): (1 << CBM_LEN) - 1, str(L3_CODE): (1 << CBM_LEN) - 1,
                   str(L3_DATA): (1 << CBM_LEN) - 1, str(MBA_THRTL): 0}
        while len(regs) <= CAT_COS_MAX:
            regs.append(dict(default))
        return regs

    def _cos_of(self) -> dict[int, dict[int, int]]:
        """domid -> {socket: COS}, for live domains."""
        table = self._cos_table()
        doms = self._ctx.hv.domains
        live = {}
        for socket, entry in table.items():
            for domid, (cos, uuid) in entry.get("doms", {}).items():
                d = doms.get(int(domid))
                if d is not None and d.uuid == uuid:
                    live.setdefault(int(domid), {})[int(socket)] = cos
        return live

    def _value(self, domid: int, socket: int, type_: int) -> int:
        cos = self._cos_of().get(domid, {}).get(socket, 0)
        feat_max = self._alloc_feats().get(self._feat_of(type_), 0)
        if cos > feat_max:
            cos = 0
        return self._regs(socket)[cos][str(type_)]

    def get_val(self, domid: int, type_: int, socket: int) -> int | None:
        """XEN_DOMCTL_PSR_GET_*: the value of the domain's COS on the socket."""
        try:
            self._domain(domid)
            feats = self._socket(socket)
            feat = self._feat_of(type_)
            if type_ == L3_CBM and "cdp" in feats:
                raise _Errno("EINVAL")
            if feat not in feats:
                raise _Errno("ENOENT")
            return self._value(domid, socket, type_)
        except _Errno as e:
            self._log_alloc(e.errno, type_)
            return None

    def set_val(self, domid: int, type_: int, sockets: list[int], val: int) -> int:
        """libxl_psr_set_val over the sockets (those past the last are left)."""
        rc = 0
        for socket in sockets:
            if socket >= self.nr_sockets:
                break
            self._ctx.hv.trace("XEN_DOMCTL_psr_alloc", domid=domid, target=socket,
                               data=val)
            try:
                self._set_one(domid, socket, type_, val)
            except _Errno as e:
                self._log_alloc(e.errno, type_)
                rc = ERROR_FAIL
        return rc

    def _set_one(self, domid: int, socket: int, type_: int, val: int) -> None:
        """psr_set_val: reuse a COS holding the same values, else take a free one."""
        d = self._domain(domid)
        feats = self._socket(socket)
        if val >= 1 << 32:
            raise _Errno("EINVAL")
        feat = "cdp" if type_ == L3_CBM and "cdp" in feats else self._feat_of(type_)
        if feat not in feats:
            raise _Errno("ENOENT")
        val = _sanitize(feat, val)
        regs = self._regs(socket)
        cos_of = self._cos_of()
        old = cos_of.get(domid, {}).get(socket, 0)
        wanted = dict(regs[old] if old <= feats[feat] else regs[0])
        for t in ((L3_CODE, L3_DATA) if feat == "cdp" and type_ == L3_CBM else (type_,)):
            wanted[str(t)] = val
        users = [c.get(socket, 0) for c in cos_of.values()]
        cos = next((c for c in range(feats[feat] + 1) if regs[c] == wanted), None)
        if cos is None:
            if old and users.count(old) == 1:
                cos = old
            else:
                cos = next((c for c in range(1, feats[feat] + 1) if c not in users), None)
            if cos is None:
                raise _Errno("EOVERFLOW")
            regs[cos] = wanted
        table = self._cos_table()
        entry = table.setdefault(str(socket), {})
        entry["regs"] = regs
        doms = {k: v for k, v in entry.get("doms", {}).items()
                if int(k) in cos_of and socket in cos_of[int(k)]}
        doms[str(domid)] = [cos, d.uuid]
        entry["doms"] = doms
        self._ctx.host.set_meta("psr_cos", json.dumps(table, sort_keys=True))


def _sanitize(feat: str, val: int) -> int:
    """cat_check_cbm (contiguous, non-empty, within cbm_len) and
    mba_sanitize_thrtl (linear: rounded down to 100 - thrtl_max)."""
    if feat == "mba":
        val -= val % (100 - MBA_THRTL_MAX)
        if val > MBA_THRTL_MAX:
            raise _Errno("EINVAL")
        return val
    if val == 0 or val >> CBM_LEN:
        raise _Errno("EINVAL")
    low = val & -val
    if (val + low) & val:
        raise _Errno("EINVAL")
    return val
