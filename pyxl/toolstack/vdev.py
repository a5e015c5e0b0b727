"""libxl's virtual keyboard, TPM, display and sound devices (libxl_vkb.c,
libxl_vtpm.c, libxl_vdispl.c, libxl_vsnd.c) and xl's parsers for their
specs (xl_parse.c, xl_vtpm.c).

A device is a dict shaped like its libxl_device_* struct (libxl_types.idl);
the parsers fill one from xl's arguments, `add` writes its directories
through the framework in device.py, `list_devices` reads them back as the
*-list commands show them. The XenStore kinds are vkbd, vtpm, vdispl, vsnd.
"""

from __future__ import annotations

import re

from pyxl.errors import PyxlError

KIND = {"vkb": "vkbd", "vtpm": "vtpm", "vdispl": "vdispl", "vsnd": "vsnd"}
VKB_BACKENDS = ("unknown", "qemu", "linux")
PCM_FORMATS = ("s8", "u8", "s16_le", "s16_be", "u16_le", "u16_be", "s24_le", "s24_be",
               "u24_le", "u24_be", "s32_le", "s32_be", "u32_le", "u32_be", "f32_le", "f32_be",
               "f64_le", "f64_be", "iec958_subframe_le", "iec958_subframe_be", "mu_law",
               "a_law", "ima_adpcm", "mpeg", "gsm")
STREAM_TYPES = ("p", "c")
_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\Z")


class SpecError(PyxlError):
    """xl rejected a spec: its one line, and the status xl's main returns."""


def strtoul(text: str) -> int:
    """C's strtoul(s, NULL, 0) truncated to 32 bits: 0x hex, 0 octal, junk is 0."""
    m = re.match(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)", text)
    if not m:
        return 0
    digits = m.group(2)
    value = int(digits, 16) if digits[:2].lower() == "0x" else (
        int(digits, 8) if digits.startswith("0") else int(digits))
    return (-value if m.group(1) == "-" else value) & 0xFFFFFFFF


def _option(token: str, name: str) -> str | None:
    """xl's MATCH_OPTION: the value after `name=`, or None."""
    return token[len(name) + 1:] if token.startswith(name + "=") else None


def uuid_from_string(text: str) -> str | None:
    """libxl_uuid_from_string: the canonical lowercase UUID, or None."""
    return text.lower() if _UUID.match(text) else None


# --- vkb ---------------------------------------------------------------------

_VKB_NUMBERS = (("feature-disable-keyboard", "feature_disable_keyboard", bool),
                ("feature-disable-pointer", "feature_disable_pointer", bool),
                ("feature-abs-pointer", "feature_abs_pointer", bool),
                ("feature-raw-pointer", "feature_raw_pointer", bool),
                ("feature-multi-touch", "feature_multi_touch", bool),
                ("multi-touch-width", "multi_touch_width", int),
                ("multi-touch-height", "multi_touch_height", int),
                ("multi-touch-num-contacts", "multi_touch_num_contacts", int),
                ("width", "width", int), ("height", "height", int))


def parse_vkb_token(vkb: dict, token: str) -> None:
    """parse_vkb_config: one key=value of a vkb spec."""
    if (value := _option(token, "backend")) is not None:
        vkb["backend_domname"] = value
    elif (value := _option(token, "backend-type")) is not None:
        if value.lower() not in VKB_BACKENDS:
            raise SpecError(f'Unknown backend_type "{value}" in vkb spec', 255)
        vkb["backend_type"] = value.lower()
    elif (value := _option(token, "unique-id")) is not None:
        vkb["unique_id"] = value
    else:
        for key, field, kind in _VKB_NUMBERS:
            if (value := _option(token, key)) is not None:
                vkb[field] = kind(strtoul(value))
                return
        raise SpecError(f'Unknown string "{token}" in vkb spec', 255)


def check_vkb(vkb: dict) -> None:
    """main_vkbattach's checks after parsing (libxl ERROR_FAIL: status 253)."""
    if vkb.get("backend_type", "unknown") == "unknown":
        raise SpecError("backend-type should be set", 253)
    if any(vkb.get(f) for f in ("multi_touch_height", "multi_touch_width",
                                "multi_touch_num_contacts")):
        vkb["feature_multi_touch"] = True
    elif vkb.get("feature_multi_touch"):
        raise SpecError("multi-touch-width, multi-touch-height, multi-touch-num-contacts "
                        "should be set", 253)


# --- vtpm --------------------------------------------------------------------

def parse_vtpm_token(vtpm: dict, token: str) -> None:
    """main_vtpmattach's argument loop (status 1 on a bad one)."""
    if (value := _option(token, "uuid")) is not None:
        uuid = uuid_from_string(value)
        if uuid is None:
            raise SpecError(f"Invalid uuid specified ({value})", 1)
        vtpm["uuid"] = uuid
    elif (value := _option(token, "backend")) is not None:
        vtpm["backend_domname"] = value
    else:
        raise SpecError(f"unrecognized argument `{token}'", 1)


# --- vdispl ------------------------------------------------------------------

def _scan_resolution(text: str) -> tuple[int, list[int]]:
    """sscanf(text, "%ux%u"): how many numbers matched, and them."""
    values = []
    rest = text
    for i in range(2):
        m = re.match(r"\s*([+-]?\d+)", rest)
        if not m:
            return (-1 if i == 0 and not rest.strip() else i), values
        values.append(int(m.group(1)) & 0xFFFFFFFF)
        rest = rest[m.end():]
        if i == 0:
            if not rest.startswith("x"):
                return 1, values
            rest = rest[1:]
    return 2, values


def parse_vdispl_token(vdispl: dict, token: str) -> list[str]:
    """parse_vdispl_config; returns the lines xl prints and goes on after.
    As in xl, a resolution with no leading number is reported and the
    connectors from it on stay empty; one with a width only is an error."""
    if (value := _option(token, "backend")) is not None:
        vdispl["backend_domname"] = value
    elif (value := _option(token, "be-alloc")) is not None:
        vdispl["be_alloc"] = bool(strtoul(value))
    elif (value := _option(token, "connectors")) is not None:
        items = [x for x in value.split(";") if x] or [""]
        vdispl["connectors"] = connectors = [{} for _ in items]
        for conn, item in zip(connectors, items):
            uid, sep, resolution = item.partition(":")
            if not sep or not resolution:
                raise SpecError("Can't parse connector resolution", 255)
            conn["unique_id"] = uid
            count, values = _scan_resolution(resolution)
            if count == 0:
                return ["Can't parse connector resolution"]
            if count != 2:
                raise SpecError("Can't parse connector resolution", count & 0xFF)
            conn["width"], conn["height"] = values
    else:
        raise SpecError(f'Unknown string "{token}" in vdispl spec', 1)
    return []


# --- vsnd --------------------------------------------------------------------

def _parse_vsnd_params(params: dict, token: str) -> bool:
    """parse_vsnd_params: False when the token is none of the shared keys."""
    if (value := _option(token, "sample-rates")) is not None:
        params["sample_rates"] = [strtoul(x) for x in value.split(";") if x]
    elif (value := _option(token, "sample-formats")) is not None:
        formats = []
        for name in (x for x in value.split(";") if x):
            if name.lower() not in PCM_FORMATS:
                raise SpecError(f"Invalid pcm format: {name}", 1)
            formats.append(name.lower())
        params["sample_formats"] = formats
    elif (value := _option(token, "channels-min")) is not None:
        params["channels_min"] = strtoul(value)
    elif (value := _option(token, "channels-max")) is not None:
        params["channels_max"] = strtoul(value)
    elif (value := _option(token, "buffer-size")) is not None:
        params["buffer_size"] = strtoul(value)
    else:
        return False
    return True


def _vsnd_param(vsnd: dict, key: str, token: str) -> None:
    """One key=value under the item a vsnd spec's first word opened."""
    pcms = vsnd.setdefault("pcms", [])
    if key == "card":
        target, names = vsnd, {"backend": "backend_domname", "short-name": "short_name",
                               "long-name": "long_name"}
    elif key == "pcm":
        if not pcms:
            raise SpecError("No pcm device", 255)
        target, names = pcms[-1], {"name": "name"}
    else:
        if not pcms:
            raise SpecError("No vsnd pcm device", 255)
        if not pcms[-1].get("streams"):
            raise SpecError("No vsnd stream", 255)
        target, names = pcms[-1]["streams"][-1], {"unique-id": "unique_id", "type": "type"}
    if _parse_vsnd_params(target.setdefault("params", {}), token):
        return
    for name, field in names.items():
        if (value := _option(token, name)) is not None:
            if field == "type":
                if value.lower() not in STREAM_TYPES:
                    raise SpecError(f"Invalid stream type: {value}", 255)
                value = value.lower()
            target[field] = value
            return
    raise SpecError(f"Invalid parameter: {token}", 255)


def parse_vsnd_item(vsnd: dict, spec: str) -> None:
    """parse_vsnd_item: `card|pcm|stream` then that item's key=value list."""
    key = None
    for token in (t.lstrip(" ") for t in spec.split(",") if t):
        if key is None:
            key = token.lower()
            if key == "pcm":
                vsnd.setdefault("pcms", []).append({})
            elif key == "stream":
                pcms = vsnd.setdefault("pcms", [])
                if not pcms:
                    pcms.append({})
                pcms[-1].setdefault("streams", []).append({})
            elif key != "card":
                raise SpecError(f"Invalid key: {token}", 255)
        else:
            _vsnd_param(vsnd, key, token)


# --- the devices' nodes --------------------------------------------------------

def _vkb_nodes(vkb: dict, devid: int):
    back = [("unique-id", vkb["unique_id"])] if vkb.get("unique_id") is not None else []
    for key, field in (("feature-disable-keyboard", "feature_disable_keyboard"),
                       ("feature-disable-pointer", "feature_disable_pointer"),
                       ("feature-abs-pointer", "feature_abs_pointer"),
                       ("feature-raw-pointer", "feature_raw_pointer")):
        if vkb.get(field):
            back.append((key, "1"))
    if vkb.get("feature_multi_touch"):
        back += [("feature-multi-touch", "1"),
                 ("multi-touch-width", str(vkb.get("multi_touch_width", 0))),
                 ("multi-touch-height", str(vkb.get("multi_touch_height", 0))),
                 ("multi-touch-num-contacts", str(vkb.get("multi_touch_num_contacts", 0)))]
    for field in ("width", "height"):
        if vkb.get(field):
            back.append((field, str(vkb[field])))
    return back, [], []


def _vtpm_nodes(vtpm: dict, devid: int):
    back = [("handle", str(devid)), ("uuid", vtpm["uuid"]), ("resume", "False")]
    return back, [("handle", str(devid))], []


def _vdispl_nodes(vdispl: dict, devid: int):
    ro = [("be-alloc", "1" if vdispl.get("be_alloc") else "0")]
    for i, conn in enumerate(vdispl.get("connectors", [])):
        ro.append((f"{i}/resolution", f"{conn.get('width', 0)}x{conn.get('height', 0)}"))
        if conn.get("unique_id") is not None:
            ro.append((f"{i}/unique-id", conn["unique_id"]))
    return [], [], ro


def _params_nodes(prefix: str, params: dict) -> list[tuple[str, str]]:
    nodes = []
    if params.get("sample_rates"):
        nodes.append((f"{prefix}sample-rates", ",".join(map(str, params["sample_rates"]))))
    if params.get("sample_formats"):
        nodes.append((f"{prefix}sample-formats", ",".join(params["sample_formats"])))
    for key, field in (("channels-min", "channels_min"), ("channels-max", "channels_max"),
                       ("buffer-size", "buffer_size")):
        if params.get(field):
            nodes.append((f"{prefix}{key}", str(params[field])))
    return nodes


def _vsnd_nodes(vsnd: dict, devid: int):
    front = [(key, vsnd[field]) for key, field in (("long-name", "long_name"),
                                                   ("short-name", "short_name"))
             if vsnd.get(field) is not None]
    front += _params_nodes("", vsnd.get("params", {}))
    for i, pcm in enumerate(vsnd.get("pcms", [])):
        if pcm.get("name") is not None:
            front.append((f"{i}/name", pcm["name"]))
        front += _params_nodes(f"{i}/", pcm.get("params", {}))
        for j, stream in enumerate(pcm.get("streams", [])):
            if stream.get("unique_id") is not None:
                front.append((f"{i}/{j}/unique-id", stream["unique_id"]))
            if stream.get("type"):
                front.append((f"{i}/{j}/type", stream["type"]))
            front += _params_nodes(f"{i}/{j}/", stream.get("params", {}))
    return [], front, []


_NODES = {"vkb": _vkb_nodes, "vtpm": _vtpm_nodes, "vdispl": _vdispl_nodes, "vsnd": _vsnd_nodes}


def add(ctx, domid: int, kind: str, dev: dict, new_uuid) -> int:
    """libxl_device_<kind>_add: setdefault, then the three directories.
    DeviceError where libxl fails (no such guest or backend, devid taken)."""
    from pyxl.toolstack import device

    if ctx.hv.domains.get(domid) is None:
        raise device.DeviceError()
    backend = device._resolve_backend(ctx, dev.get("backend_domname"),
                                      dev.get("backend_domid", 0))
    xkind = KIND[kind]
    devid = dev.get("devid", -1)
    if devid < 0:
        devid = device._next_devid(ctx, domid, xkind)
    if kind == "vtpm" and not dev.get("uuid"):
        dev["uuid"] = new_uuid(ctx)
    bkind = xkind
    if kind == "vkb":
        dev.setdefault("backend_type", "qemu")
        bkind = "vinput" if dev["backend_type"] == "linux" else "vkbd"
    back, front, ro_front = _NODES[kind](dev, devid)
    device.generic_add(ctx, domid, backend, xkind, bkind, devid, back, front, ro_front)
    if kind != "vkb":  # libxl_device_vkb_add leaves the stored config alone
        dev["devid"] = devid
        device.save_config(ctx, domid, f"{kind}s", dict(dev),
                           lambda old: old.get("devid") == devid)
    return devid


# --- listing -------------------------------------------------------------------

def _num(text: str | None) -> int:
    """getinfo's `val ? strtoul(val, NULL, 10) : -1`."""
    if text is None:
        return -1
    m = re.match(r"\s*(\d+)", text)
    return int(m.group(1)) if m else 0


def _read_params(xs, path: str) -> dict:
    """libxl__params_from_xenstore."""
    from pyxl.toolstack.device import _read

    params: dict = {}
    rates = _read(xs, f"{path}/sample-rates")
    if rates:
        params["sample_rates"] = [strtoul(x) for x in rates.split(",") if x]
    formats = _read(xs, f"{path}/sample-formats")
    if formats:
        params["sample_formats"] = [x for x in formats.split(",") if x]
    for key, field in (("channels-min", "channels_min"), ("channels-max", "channels_max"),
                       ("buffer-size", "buffer_size")):
        value = _read(xs, f"{path}/{key}")
        if value is not None:
            params[field] = strtoul(value)
    return params


def _numbered(xs, path: str) -> list[str]:
    """libxl's count of 0, 1, ... children: up to the first one missing."""
    from pyxl.toolstack.device import _read

    out, i = [], 0
    while _read(xs, f"{path}/{i}") is not None:
        out.append(str(i))
        i += 1
    return out


def _info(xs, domid: int, kind: str, devid: int) -> dict | None:
    """libxl_device_<kind>_getinfo, plus what *-list takes from the device."""
    from pyxl.toolstack.device import _backend_of, _read, frontend_path, libxl_path

    xkind = KIND[kind]
    lpath = libxl_path(domid, xkind, devid)
    bpath = _read(xs, f"{lpath}/backend")
    if bpath is None:
        return None
    fpath = frontend_path(domid, xkind, devid)
    info = {"devid": devid, "backend_id": _backend_of(bpath), "frontend_id": domid,
            "backend": bpath, "frontend": _read(xs, f"{lpath}/frontend"),
            "state": _num(_read(xs, f"{fpath}/state"))}
    if kind == "vkb":
        info["evtch"] = _num(_read(xs, f"{fpath}/event-channel"))
        info["rref"] = _num(_read(xs, f"{fpath}/page-gref"))
        info["unique_id"] = _read(xs, f"{bpath}/unique-id")
        info["backend_type"] = "linux" if "/backend/vinput/" in bpath else "qemu"
    elif kind == "vtpm":
        info["evtch"] = _num(_read(xs, f"{fpath}/event-channel"))
        info["rref"] = _num(_read(xs, f"{fpath}/ring-ref"))
        info["uuid"] = _read(xs, f"{lpath}/uuid") or ""
    elif kind == "vdispl":
        info["be_alloc"] = _num(_read(xs, f"{fpath}/be-alloc"))
        info["connectors"] = [
            {"unique_id": _read(xs, f"{fpath}/{c}/unique-id"),
             "resolution": _read(xs, f"{fpath}/{c}/resolution"),
             **{k: _num(_read(xs, f"{fpath}/{c}/{node}")) for k, node in (
                 ("req_rref", "req-ring-ref"), ("req_evtch", "req-event-channel"),
                 ("evt_rref", "evt-ring-ref"), ("evt_evtch", "evt-event-channel"))}}
            for c in _numbered(xs, fpath)]
    else:
        info.update(short_name=_read(xs, f"{fpath}/short-name"),
                    long_name=_read(xs, f"{fpath}/long-name"),
                    params=_read_params(xs, fpath), pcms=[])
        for p in _numbered(xs, fpath):
            pcm = {"name": _read(xs, f"{fpath}/{p}/name"),
                   "params": _read_params(xs, f"{fpath}/{p}"), "streams": []}
            for s in _numbered(xs, f"{fpath}/{p}"):
                spath = f"{fpath}/{p}/{s}"
                pcm["streams"].append({"unique_id": _read(xs, f"{spath}/unique-id"),
                                       "type": _read(xs, f"{spath}/type"),
                                       "params": _read_params(xs, spath),
                                       "rref": _num(_read(xs, f"{spath}/ring-ref")),
                                       "evtch": _num(_read(xs, f"{spath}/event-channel"))})
            info["pcms"].append(pcm)
    return info


def devids(ctx, domid: int, kind: str) -> list[int]:
    """libxl__device_list: the devids under libxl's own record of the guest."""
    from pyxl.toolstack.device import _directory

    return sorted(int(x) for x in _directory(ctx.xs(), f"/libxl/{domid}/device/{KIND[kind]}")
                  if x.isdigit())


def list_devices(ctx, domid: int, kind: str) -> list[dict]:
    xs = ctx.xs()
    return [i for i in (_info(xs, domid, kind, devid) for devid in devids(ctx, domid, kind))
            if i is not None]


def find_vtpm(ctx, domid: int, which: str) -> int | None:
    """xl vtpm-detach: a UUID names the vTPM with that uuid, else atoi(devid)."""
    from pyxl.toolstack.device import _atoi, _read, libxl_path

    uuid = uuid_from_string(which)
    for devid in devids(ctx, domid, "vtpm"):
        if uuid is None and devid == _atoi(which):
            return devid
        if uuid is not None and _read(ctx.xs(), f"{libxl_path(domid, 'vtpm', devid)}/uuid") \
                == uuid:
            return devid
    return None


# --- JSON (libxl_device_<kind>_to_json) ----------------------------------------

def to_json(kind: str, dev: dict) -> str:
    """What `xl -N <kind>-attach` prints after "<kind>: " (yajl-beautified)."""
    from pyxl.toolstack import libxl_json

    return libxl_json.render(libxl_json._gen_struct(kind, dev))
