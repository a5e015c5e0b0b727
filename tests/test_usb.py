"""USB passthrough: virtual controllers (vusb) and the host's USB devices on
their ports, with xl's words and exit codes for each command."""

import json

import pytest

BE = "/local/domain/0/backend/vusb/1/0"
FE = "/local/domain/1/device/vusb/0"
HEADER = "Devid  Type         BE  state usb-ver ports\n"


def ok(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, r.err
    return r


def read(pyxl, path):
    r = pyxl("xenstore-read", path)
    return r.out.rstrip("\n") if r.code == 0 else None


def libxl_err(where, msg, domid=None):
    dom = f"Domain {domid}:" if domid else ""
    return f"libxl: error: {where}: {dom}{msg}\n"


@pytest.fixture
def guest(pyxl, guest_cfg):
    ok(pyxl, "create", "-q", guest_cfg("g1"))
    pyxl("clock", "advance", "2s")
    return "g1"


def test_a_pv_controller_has_libxls_nodes_and_connects(pyxl, guest):
    ok(pyxl, "usbctrl-attach", guest)
    assert read(pyxl, f"{FE}/state") == "1"
    pyxl("clock", "advance", "1s")
    assert read(pyxl, f"{BE}/type") == "pv"
    assert read(pyxl, f"{BE}/usb-ver") == "2"
    assert read(pyxl, f"{BE}/num-ports") == "8"
    assert [read(pyxl, f"{BE}/port/{i}") for i in range(1, 9)] == [""] * 8
    assert read(pyxl, f"{BE}/frontend") == FE
    assert read(pyxl, f"{FE}/backend") == BE
    assert read(pyxl, "/libxl/1/device/vusb/0/backend") == BE
    assert read(pyxl, f"{BE}/state") == "4"
    assert read(pyxl, f"{FE}/state") == "4"
    for key in ("urb-ring-ref", "conn-ring-ref", "event-channel"):
        assert read(pyxl, f"{FE}/{key}").isdigit()
    assert pyxl("usb-list", guest).out == (
        HEADER + "0      pv           0   4     2       8    \n"
        + "".join(f"  Port {i}:\n" for i in range(1, 9)))


def test_version_and_ports_are_checked_as_libxl_does(pyxl, guest):
    where = "libxl_usb.c:{}:libxl__device_usbctrl_setdefault"
    r = pyxl("usbctrl-attach", guest, "version=3")
    assert (r.code, r.err) == (1, libxl_err(
        where.format(67), "USB version for paravirtualized devices must be 1 or 2")
        + "libxl_device_usbctrl_add failed.\n")
    r = pyxl("usbctrl-attach", guest, "ports=32")
    assert (r.code, r.err) == (1, libxl_err(
        where.format(75), "Number of ports for USB controller is limited to 31")
        + "libxl_device_usbctrl_add failed.\n")
    assert pyxl("usb-list", guest).out == ""
    ok(pyxl, "usbctrl-attach", guest, "type=PV", "version=1", "ports=2")
    pyxl("clock", "advance", "1s")
    row = pyxl("usb-list", guest).out.splitlines()[1]
    assert row == "0      pv           0   4     1       2    "


def test_bad_specs_are_xls_one_line(pyxl, guest):
    r = pyxl("usbctrl-attach", guest, "type=ohci")
    assert (r.code, r.err) == (1, "Invalid usb controller type 'ohci'\n")
    r = pyxl("usbctrl-attach", guest, "speed=2")
    assert (r.code, r.err) == (1, "Unknown string `speed=2' in usbctrl spec\n")
    r = pyxl("usbdev-attach", guest, "hostbus=1", "addr=2")
    assert (r.code, r.err) == (1, "Unknown string `addr=2' in usbdev spec\n")
    r = pyxl("usbdev-attach", guest, "type=hid")
    assert (r.code, r.err) == (1, "Invalid usb device type: (null)\n")
    assert pyxl("usbctrl-attach").code == 2
    assert pyxl("usbdev-detach", guest, "0").code == 2
    assert pyxl("usb-list", guest).out == ""


def test_a_device_creates_a_controller_and_goes_to_usbback(pyxl, guest):
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2")
    assert read(pyxl, f"{BE}/port/1") == "1-1"
    assert read(pyxl, "/libxl/usbback/1-1/1-1@1_0/driver_path") == \
        "/sys/bus/usb/drivers/usb-storage"
    ok(pyxl, "usbdev-attach", guest, "hostbus=0x1", "hostaddr=3")
    lines = pyxl("usb-list", guest).out.splitlines()
    assert lines[2:5] == ["  Port 1: Bus 001 Device 002", "  Port 2: Bus 001 Device 003",
                          "  Port 3:"]
    ok(pyxl, "usbdev-detach", guest, "0", "1")
    assert read(pyxl, f"{BE}/port/1") == ""
    assert read(pyxl, "/libxl/usbback/1-1") is None
    assert pyxl("usb-list", guest).out.splitlines()[2] == "  Port 1:"


def test_a_full_controller_gets_a_second_one(pyxl, guest):
    ok(pyxl, "usbctrl-attach", guest, "ports=1")
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2")
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=3")
    pyxl("clock", "advance", "1s")
    out = pyxl("usb-list", guest).out
    assert out == (HEADER + "0      pv           0   4     2       1    \n"
                   "  Port 1: Bus 001 Device 002\n"
                   + HEADER + "1      pv           0   4     2       8    \n"
                   "  Port 1: Bus 001 Device 003\n"
                   + "".join(f"  Port {i}:\n" for i in range(2, 9)))


def test_host_device_and_port_errors(pyxl, guest, guest_cfg):
    where = "libxl_usb.c:{}:{}"
    add = "libxl__device_usbdev_add"
    failed = "libxl_device_usbdev_add failed.\n"
    # no such device, a hub, a root hub, no device named at all
    for spec in (("hostbus=9", "hostaddr=2"), ("hostbus=2", "hostaddr=2"),
                 ("hostbus=1", "hostaddr=1"), ("controller=-1",)):
        r = pyxl("usbdev-attach", guest, *spec)
        assert (r.code, r.err) == (1, libxl_err(where.format(1732, add),
                                                "USB device is not assignable.", 1) + failed)
    r = pyxl("usbdev-attach", guest, "hostbus=1", "hostaddr=2", "port=1")
    assert (r.code, r.err) == (1, libxl_err(
        where.format(1166, "libxl__device_usbdev_setdefault"),
        "USB controller must be specified if you specify port", 1) + failed)
    assert pyxl("usb-list", guest).out == ""
    ok(pyxl, "usbctrl-attach", guest, "ports=1")
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2", "controller=0", "port=1")
    r = pyxl("usbdev-attach", guest, "hostbus=1", "hostaddr=3", "controller=0", "port=1")
    assert (r.code, r.err) == (1, libxl_err(
        where.format(1214, "libxl__device_usbdev_setdefault"),
        "The controller port isn't available", 1) + failed)
    r = pyxl("usbdev-attach", guest, "hostbus=1", "hostaddr=3", "controller=0")
    assert (r.code, r.err) == (1, libxl_err(
        where.format(1241, "libxl__device_usbdev_setdefault"),
        "No available port under specified controller", 1) + failed)
    r = pyxl("usbdev-attach", guest, "hostbus=1", "hostaddr=3", "controller=5")
    assert (r.code, r.err) == (1, failed)
    ok(pyxl, "create", "-q", guest_cfg("g2"))
    r = pyxl("usbdev-attach", "g2", "hostbus=1", "hostaddr=2")
    assert (r.code, r.err) == (1, libxl_err(where.format(1746, add),
                                            "USB device already attached to a domain", 2)
                               + failed)
    assert pyxl("usb-list", "g2").out == ""


def test_detach_errors(pyxl, guest):
    r = pyxl("usbctrl-detach", guest, "0")
    assert (r.code, r.err) == (1, "Unknown device 0.\n")
    r = pyxl("usbdev-detach", guest, "0", "1")
    assert (r.code, r.err) == (1, "Unknown device at controller 0 port 1.\n")
    ok(pyxl, "usbctrl-attach", guest)
    r = pyxl("usbdev-detach", guest, "0", "1", "extra")
    assert (r.code, r.err) == (1, "Invalid arguments.\n")
    r = pyxl("usb-list", guest, "extra")
    assert (r.code, r.err) == (255, "Invalid arguments.\n")


def _rings(pyxl, dom):
    """A domain's grants, maps and event channels, as the JSON lists show them."""
    grants = json.loads(pyxl("grant-list", "--json", dom).out)
    ports = json.loads(pyxl("evtchn-list", "--json", dom).out)["ports"]
    return grants["grants"], grants["maps"], ports


def test_controller_detach_takes_its_devices_nodes_rings_and_channel(pyxl, guest):
    before = _rings(pyxl, guest), _rings(pyxl, "0")
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2")
    pyxl("clock", "advance", "1s")
    ref = int(read(pyxl, f"{FE}/urb-ring-ref"))
    assert any(m["domid"] == 1 and m["ref"] == ref for m in _rings(pyxl, "0")[1])
    ok(pyxl, "usbctrl-detach", guest, "0")
    for path in (BE, FE, "/libxl/1/device/vusb", "/libxl/usbback/1-1"):
        assert read(pyxl, path) is None, path
    assert pyxl("usb-list", guest).out == ""
    assert (_rings(pyxl, guest), _rings(pyxl, "0")) == before
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2")


def test_destroy_leaves_nothing_behind(pyxl, guest, guest_cfg):
    ok(pyxl, "usbdev-attach", guest, "hostbus=1", "hostaddr=2")
    pyxl("clock", "advance", "1s")
    ok(pyxl, "destroy", guest)
    assert all(m["domid"] != 1 for m in _rings(pyxl, "0")[1])
    for path in ("/local/domain/0/backend/vusb", "/libxl/usbback/1-1"):
        assert read(pyxl, path) is None, path
    ok(pyxl, "create", "-q", guest_cfg("g2"))
    ok(pyxl, "usbdev-attach", "g2", "hostbus=1", "hostaddr=2")


def test_an_hvm_guest_gets_an_emulated_controller(pyxl, write_cfg):
    ok(pyxl, "create", "-q", write_cfg('name = "h"\ntype = "hvm"\nmemory = 256\n'))
    ok(pyxl, "usbdev-attach", "h", "hostbus=1", "hostaddr=3")
    assert read(pyxl, "/libxl/1/device/vusb/0/type") == "devicemodel"
    assert read(pyxl, "/libxl/1/device/vusb/0/port/1") == "1-2"
    assert read(pyxl, "/local/domain/0/backend/vusb") is None
    assert pyxl("usb-list", "h").out == (
        HEADER + "0      devicemodel  0   0     2       6    \n"
        "  Port 1: Bus 001 Device 003\n" + "".join(f"  Port {i}:\n" for i in range(2, 7)))
    r = pyxl("usbctrl-attach", "h", "version=1", "ports=4")
    assert r.err == libxl_err("libxl_usb.c:88:libxl__device_usbctrl_setdefault",
                              "Number of ports for USB controller of version 1 is always 2") \
        + "libxl_device_usbctrl_add failed.\n"
    ok(pyxl, "usbctrl-detach", "h", "0")
    assert read(pyxl, "/libxl/1/device/vusb") is None


def test_usbctrl_in_the_config_is_attached_at_create(pyxl, guest_cfg):
    ok(pyxl, "create", "-q", guest_cfg("g1", extra='usbctrl = ["version=1,ports=4"]\n'))
    pyxl("clock", "advance", "3s")
    assert pyxl("usb-list", "g1").out == (
        HEADER + "0      pv           0   4     1       4    \n"
        + "".join(f"  Port {i}:\n" for i in range(1, 5)))
    ok(pyxl, "destroy", "g1")
    assert read(pyxl, BE) is None
