"""PCI passthrough: the host's devices, pciback's assignable list, a guest's
pci backend in XenStore, and xl's words and exit codes for each command."""

import pytest

NIC = "0000:02:00.0"
NIC2 = "0000:03:00.1"
SATA = "0000:00:1f.2"
BE = "/local/domain/0/backend/pci/1/0"
FE = "/local/domain/1/device/pci/0"


def ok(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, r.err
    return r


def xs_ls(pyxl, path):
    return pyxl("xenstore-ls", "-f", path)


def libxl_err(where, msg):
    return f"libxl: error: {where}: {msg}\n"


@pytest.fixture
def guest(pyxl, guest_cfg):
    ok(pyxl, "create", "-q", guest_cfg("g1"))
    return "g1"


# --- the host's devices and pciback ------------------------------------------------


def test_a_default_host_has_nothing_assignable_until_asked(pyxl):
    assert (pyxl("pci-assignable-list").code, pyxl("pci-assignable-list").out) == (0, "")
    ok(pyxl, "pci-assignable-add", "02:00.0")
    ok(pyxl, "pci-assignable-add", "-n", "fast0", NIC2)
    ok(pyxl, "pci-assignable-add", "--name=sata", "0:0:1f.2")
    assert pyxl("pci-assignable-list").out == f"{SATA} \n{NIC} \n{NIC2} \n"
    assert pyxl("pci-assignable-list", "-n").out == f"{SATA} sata\n{NIC} \n{NIC2} fast0\n"
    assert pyxl("pci-assignable-list", "--show-names").out.endswith(f"{NIC2} fast0\n")


def test_libxl_remembers_names_and_drivers_where_libxl_does(pyxl):
    ok(pyxl, "pci-assignable-add", "-n", "fast0", NIC2)
    assert xs_ls(pyxl, "/libxl/pci").out == (
        '/libxl/pci/0000-03-00-1 = ""\n'
        '/libxl/pci/0000-03-00-1/driver_path = "/sys/bus/pci/drivers/ixgbe"\n'
        '/libxl/pci/0000-03-00-1/name = "fast0"\n')


def test_a_device_the_host_does_not_have(pyxl):
    r = pyxl("pci-assignable-add", "0a:00.0")
    assert (r.code, r.out) == (1, "")
    assert r.err == libxl_err("libxl_pci.c:796:libxl__device_pci_assignable_add",
                              "Couldn't lstat /sys/bus/pci/devices/0000:0a:00.0: "
                              "No such file or directory")
    assert pyxl("pci-assignable-list").out == ""


@pytest.mark.parametrize("bdf", ["0a:00", "zz", "1:2:3:4.0", "02:20.0", "02:00.8", ""])
def test_a_malformed_bdf_exits_2(pyxl, bdf):
    r = pyxl("pci-assignable-add", bdf)
    assert (r.code, r.out, r.err) == (2, "", f'pci-assignable-add: malformed BDF "{bdf}"\n')


def test_adding_twice_warns_and_succeeds(pyxl):
    ok(pyxl, "pci-assignable-add", NIC)
    r = pyxl("pci-assignable-add", NIC)
    assert (r.code, r.err) == (0, "libxl: warning: libxl_pci.c:806:"
                               f"libxl__device_pci_assignable_add: {NIC} already assigned "
                               "to pciback\n")
    assert pyxl("pci-assignable-list").out == f"{NIC} \n"


@pytest.mark.parametrize("name, msg", [("x" * 65, "Name too long"),
                                       ("two words", "Names may only include printable "
                                        "characters")])
def test_bad_names_are_refused(pyxl, name, msg):
    r = pyxl("pci-assignable-add", "-n", name, NIC)
    assert (r.code, r.err) == (1, libxl_err("libxl_pci.c:"
                                            f"{781 if 'long' in msg else 787}:"
                                            "libxl__device_pci_assignable_add", msg))
    assert pyxl("pci-assignable-list").out == ""


def test_remove_by_name_then_by_bdf(pyxl):
    ok(pyxl, "pci-assignable-add", "-n", "fast0", NIC2)
    ok(pyxl, "pci-assignable-add", NIC)
    assert ok(pyxl, "pci-assignable-remove", "fast0").err == ""
    assert pyxl("pci-assignable-list").out == f"{NIC} \n"
    assert ok(pyxl, "pci-assignable-remove", "02:00.0").err == ""
    assert pyxl("pci-assignable-list").out == ""


def test_remove_of_a_device_not_assignable(pyxl):
    r = pyxl("pci-assignable-remove", "02:00.0")
    assert (r.code, r.err) == (1, libxl_err("libxl_pci.c:910:"
                                            "libxl__device_pci_assignable_remove",
                                            f"failed to de-quarantine {NIC}"))


def test_remove_of_an_unknown_name_that_is_no_bdf(pyxl):
    r = pyxl("pci-assignable-remove", "-r", "nosuch")
    assert (r.code, r.out, r.err) == (2, "", "pci-assignable-remove: malformed BDF 'nosuch'\n")


def test_rebind_goes_back_to_the_driver_libxl_saved(pyxl):
    ok(pyxl, "pci-assignable-add", NIC)
    assert ok(pyxl, "pci-assignable-remove", NIC).err == ""   # left without a driver
    r = ok(pyxl, "pci-assignable-add", NIC)
    assert r.err == ("libxl: info: libxl_pci.c:823:libxl__device_pci_assignable_add: "
                     f"{NIC} not bound to a driver, will be rebound to "
                     "/sys/bus/pci/drivers/igb\n")
    r = ok(pyxl, "pci-assignable-remove", "-r", NIC)
    assert r.err == ("libxl: info: libxl_pci.c:929:libxl__device_pci_assignable_remove: "
                     "Rebinding to driver at /sys/bus/pci/drivers/igb\n")
    assert xs_ls(pyxl, "/libxl/pci").out == '/libxl/pci/0000-02-00-0 = ""\n'


def test_a_device_without_a_dom0_driver_is_not_rebound(pyxl, state_dir):
    host = state_dir / "localhost"
    host.mkdir(parents=True)
    (host / "host.toml").write_text('[boot]\nclock = "manual"\n'
                                    'pci = ["0000:05:00.0=Signal processing controller: Acme"]\n')
    r = ok(pyxl, "pci-assignable-add", "05:00.0")
    assert r.err == ("libxl: warning: libxl_pci.c:826:libxl__device_pci_assignable_add: "
                     "0000:05:00.0 not bound to a driver, will not be rebound.\n")
    r = ok(pyxl, "pci-assignable-remove", "-r", "05:00.0")
    assert r.err == ("libxl: warning: libxl_pci.c:942:libxl__device_pci_assignable_remove: "
                     "Couldn't find path for original driver; not rebinding\n")


def test_host_toml_lists_the_machine_s_devices(pyxl, state_dir):
    host = state_dir / "localhost"
    host.mkdir(parents=True)
    (host / "host.toml").write_text(
        '[boot]\nclock = "manual"\n'
        'pci = ["0000:81:00.0=Non-Volatile memory controller: Samsung NVMe SSD"]\n')
    ok(pyxl, "pci-assignable-add", "81:00.0")
    assert pyxl("pci-assignable-list").out == "0000:81:00.0 \n"
    assert pyxl("pci-assignable-add", "02:00.0").code == 1
    assert xs_ls(pyxl, "/libxl/pci").out.endswith('driver_path = "/sys/bus/pci/drivers/nvme"\n')


def test_host_toml_with_a_bad_device_is_refused(pyxl, state_dir):
    host = state_dir / "localhost"
    host.mkdir(parents=True)
    (host / "host.toml").write_text('[boot]\nclock = "manual"\npci = ["02:00.0=short BDF"]\n')
    r = pyxl("pci-assignable-list")
    assert r.code == 1 and "invalid pci device '02:00.0=short BDF'" in r.err
    assert r.err.count("\n") == 1


# --- pci-attach, pci-list, pci-detach ------------------------------------------------


def test_attach_writes_the_pci_backend_and_pciback_connects(pyxl, guest):
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-assignable-add", "-n", "fast0", NIC2)
    assert ok(pyxl, "pci-attach", guest, "02:00.0").err == ""
    assert ok(pyxl, "pci-attach", guest, "name=fast0").err == ""
    assert pyxl("pci-list", guest).out == f"Vdev Device\n00.0 {NIC}\n00.0 {NIC2}\n"
    assert pyxl("pci-assignable-list").out == ""
    back = {line.split(" = ")[0][len(BE) + 1:]: line.split(" = ")[1]
            for line in xs_ls(pyxl, BE).out.splitlines() if line.startswith(BE + "/")}
    assert back == {
        "frontend": f'"{FE}"', "frontend-id": '"1"', "online": '"1"', "state": '"4"',
        "domain": '"g1"', "num_devs": '"2"', "root-0": '"0000:00"', "root_num": '"1"',
        "key-0": f'"{NIC}"', "dev-0": f'"{NIC}"', "state-0": '"3"',
        "opts-0": '"msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict"',
        "vdev-0": '"0000:00:00.00"',
        "key-1": f'"{NIC2}"', "dev-1": f'"{NIC2}"', "name-1": '"fast0"', "state-1": '"3"',
        "opts-1": '"msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict"',
        "vdev-1": '"0000:00:01.01"'}
    assert xs_ls(pyxl, FE).out == (f'{FE}/backend = "{BE}"\n'
                                   f'{FE}/backend-id = "0"\n{FE}/state = "4"\n')
    assert pyxl("xenstore-read", "/libxl/pci/0000-02-00-0/domid").out == "1\n"


def test_only_assignable_devices_can_be_attached(pyxl, guest):
    r = pyxl("pci-attach", guest, "00:1f.2")
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        libxl_err("libxl_pci.c:1582:libxl__device_pci_add",
                  "Domain 1:PCI device 0:0:1f.2 is not assignable")
        + libxl_err("libxl_pci.c:1714:device_pci_add_done",
                    "Domain 1:libxl__device_pci_add failed for PCI device 0:0:1f.2 (rc -3)")
        + libxl_err("libxl_device.c:1481:device_addrm_aocomplete", "unable to add device"))
    assert pyxl("pci-list", guest).out == ""
    assert pyxl("xenstore-exists", "/local/domain/0/backend/pci").code == 1


def test_a_device_is_in_one_domain_only(pyxl, guest, guest_cfg):
    ok(pyxl, "create", "-q", guest_cfg("g2"))
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-attach", guest, NIC)
    r = pyxl("pci-attach", "g2", NIC)
    assert r.code == 1 and "Domain 2:PCI device 0:2:0.0 is not assignable" in r.err
    assert pyxl("pci-list", "g2").out == ""


def test_an_unknown_name_is_not_found(pyxl, guest):
    r = pyxl("pci-attach", guest, "name=nosuch")
    assert (r.code, r.err) == (1, libxl_err(
        "libxl_pci.c:1708:device_pci_add_done",
        "Domain 1:libxl__device_pci_add failed for PCI device 'nosuch' (rc -23)")
        + libxl_err("libxl_device.c:1481:device_addrm_aocomplete", "unable to add device"))


@pytest.mark.parametrize("spec", ["", "02:00.0x", "2:0.8", "02:20.0", "02:00.0@20",
                                  "02:00.0,name=n", "02:00.0,permissive", "1:2:3:4.0",
                                  "bdf=02:00.9", "vslot=3"])
def test_a_malformed_spec_exits_2(pyxl, guest, spec):
    for cmd in ("pci-attach", "pci-detach"):
        r = pyxl(cmd, guest, spec)
        assert (r.code, r.out, r.err) == (2, "", f'{cmd}: malformed PCI_SPEC_STRING "{spec}"\n')


@pytest.mark.parametrize("spec, report", [("02:00.0,foo=1", "Unknown PCI_SPEC_STRING option: foo"),
                                          ("02:00.0,rdm_policy=loose",
                                           "Unknown RDM policy: loose")])
def test_libxlu_says_why_without_a_newline(pyxl, guest, spec, report):
    r = pyxl("pci-attach", guest, spec)
    assert (r.code, r.err) == (2, f'{report}pci-attach: malformed PCI_SPEC_STRING "{spec}"\n')


@pytest.mark.parametrize("spec, vdev", [("02:00.0@3", "03.0"), ("bdf=0:2:0.0,vslot=0x1f", "1f.0"),
                                        ("2: 0. 0,permissive=1", "00.0")])
def test_specs_xl_accepts(pyxl, guest, spec, vdev):
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-attach", guest, spec)
    assert pyxl("pci-list", guest).out == f"Vdev Device\n{vdev} {NIC}\n"


def test_an_invalid_domain(pyxl):
    r = pyxl("pci-attach", "nosuch", "02:00.0")
    assert (r.code, r.err) == (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    assert pyxl("pci-list", "7").out == ""


def test_detach_removes_every_node_and_the_device_is_assignable_again(pyxl, guest):
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-assignable-add", NIC2)
    ok(pyxl, "pci-attach", guest, NIC)
    ok(pyxl, "pci-attach", guest, NIC2)
    assert ok(pyxl, "pci-detach", guest, NIC).err == ""
    assert pyxl("pci-list", guest).out == f"Vdev Device\n00.0 {NIC2}\n"
    assert pyxl("xenstore-read", f"{BE}/dev-0", f"{BE}/num_devs").out == f"{NIC2}\n1\n"
    assert pyxl("xenstore-exists", f"{BE}/dev-1").code == 1
    assert pyxl("pci-assignable-list").out == f"{NIC} \n"
    assert ok(pyxl, "pci-detach", guest, "03:00.1").err == ""
    assert pyxl("pci-list", guest).out == ""
    assert pyxl("xenstore-exists", "/local/domain/0/backend/pci").code == 1
    assert pyxl("xenstore-exists", "/local/domain/1/device/pci").code == 1
    assert pyxl("pci-assignable-list").out == f"{NIC} \n{NIC2} \n"


def test_attach_and_detach_keep_the_stored_config(pyxl, guest):
    """libxl's device_add_domain_config: `list -l` shows a hot-attached
    function; once detached it is gone."""
    import json

    def pcidevs():   # libxl's JSON leaves out fields that are 0
        stored = json.loads(ok(pyxl, "list", "-l", guest).out)[0]["config"].get("pcidevs", [])
        return [(p.get("bus", 0), p.get("dev", 0), p.get("func", 0)) for p in stored]

    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-assignable-add", NIC2)
    ok(pyxl, "pci-attach", guest, NIC)
    ok(pyxl, "pci-attach", guest, NIC2)
    assert pcidevs() == [(2, 0, 0), (3, 0, 1)]
    ok(pyxl, "pci-detach", guest, NIC)
    assert pcidevs() == [(3, 0, 1)]
    ok(pyxl, "pci-detach", guest, NIC2)
    assert pcidevs() == []


def test_detach_of_a_device_not_attached(pyxl, guest):
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-assignable-add", NIC2)
    ok(pyxl, "pci-attach", guest, NIC)
    r = pyxl("pci-detach", guest, NIC2)
    assert (r.code, r.err) == (1, libxl_err("libxl_pci.c:1834:do_pci_remove",
                                            "Domain 1:PCI device not attached to this domain")
                               + libxl_err("libxl_device.c:1481:device_addrm_aocomplete",
                                           "unable to remove device"))
    assert pyxl("pci-list", guest).out == f"Vdev Device\n00.0 {NIC}\n"


def test_forced_detach_of_a_device_not_attached_exits_0(pyxl, guest):
    ok(pyxl, "pci-assignable-add", NIC)
    r = pyxl("pci-detach", "-f", guest, NIC)
    assert (r.code, r.err) == (0, libxl_err("libxl_pci.c:2116:pci_remove_detached",
                                            "Domain 1:xc_deassign_device failed: "
                                            "No such device"))
    assert pyxl("pci-assignable-list").out == f"{NIC} \n"


def test_a_domain_with_no_devices_lists_nothing(pyxl, guest):
    assert (pyxl("pci-list", guest).code, pyxl("pci-list", guest).out) == (0, "")


def test_an_hvm_guest_gets_a_slot_from_qemu(pyxl, write_cfg):
    ok(pyxl, "create", "-q", write_cfg('name = "h"\ntype = "hvm"\nmemory = 256\n'))
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-attach", "h", NIC)
    assert pyxl("pci-list", "h").out == f"Vdev Device\n04.0 {NIC}\n"
    assert pyxl("xenstore-read", f"{BE}/vdevfn-0").out == "20\n"


# --- pci= in xl.cfg, and destroy -------------------------------------------------------


def test_pci_at_create_and_destroy_gives_the_devices_back(pyxl, guest_cfg):
    ok(pyxl, "pci-assignable-add", NIC)
    ok(pyxl, "pci-assignable-add", "-n", "fast0", NIC2)
    ok(pyxl, "create", "-q", guest_cfg("g1", extra='pci = ["02:00.0", "name=fast0"]\n'))
    assert pyxl("pci-list", "g1").out == f"Vdev Device\n00.0 {NIC}\n00.0 {NIC2}\n"
    assert pyxl("xenstore-read", f"{BE}/state", f"{FE}/state").out == "4\n4\n"
    assert pyxl("pci-assignable-list").out == ""
    ok(pyxl, "destroy", "g1")
    assert pyxl("xenstore-exists", "/local/domain/0/backend/pci").code == 1
    assert "domid" not in xs_ls(pyxl, "/libxl/pci").out
    assert pyxl("pci-assignable-list", "-n").out == f"{NIC} \n{NIC2} fast0\n"


def test_pci_at_create_of_a_device_not_assignable_fails_the_create(pyxl, guest_cfg):
    path = guest_cfg("g1", extra='pci = ["00:1f.2"]\n')
    r = pyxl("create", "-q", path)
    assert (r.code, r.out) == (3, "")
    assert r.err.splitlines()[-1] == ("libxl: error: libxl_create.c:1939:"
                                      "domcreate_attach_devices: Domain 1:unable to add pci "
                                      "devices")
    assert pyxl("list").out.count("\n") == 2


def test_pci_at_create_with_an_unknown_option(pyxl, guest_cfg):
    path = guest_cfg("g1", extra='pci = ["02:00.0,zz=1"]\n')
    r = pyxl("create", "-q", path)
    assert r.code == 6  # exit(-e): ERROR_INVAL from libxlu
    assert r.err == ("Unknown PCI_SPEC_STRING option: zzunable to parse PCI_SPEC_STRING "
                     "`02:00.0,zz=1' for passthrough\n")


# --- the command table -----------------------------------------------------------------


def test_help_is_xl_s(pyxl):
    assert pyxl("help", "pci-assignable-list").out == (
        "Usage: xl [-vtT] pci-assignable-list [options]\n\n"
        "List all the assignable pci devices.\n\nOptions:\n\n"
        "-h                      Print this help.\n"
        "-n, --show-names        Display assignable device names where\n"
        "                        supplied.\n\n")
    r = pyxl("pci-attach", "g1")
    assert r.code == 2 and r.err.startswith("'xl pci-attach' requires at least 2 arguments.")
    assert pyxl("-N", "pci-attach", "g1", "02:00.0").code == 1


def test_host_boot_names_the_machines_devices(pyxl, state_dir):
    r = pyxl("host", "boot", "lab", "--clock", "manual",
             "--pci", "0000:05:00.0=Ethernet controller: Example NIC",
             "--usb", "001:002=0781:5567 SanDisk Cruzer")
    assert r.code == 0, r.err
    assert pyxl("--host", "lab", "pci-assignable-add", "05:00.0").code == 0
    assert "0000:05:00.0" in pyxl("--host", "lab", "pci-assignable-list").out
    assert pyxl("--host", "lab", "pci-assignable-add", "02:00.0").code == 1  # not this machine's
    r = pyxl("host", "boot", "bad", "--pci", "zz")
    assert (r.code, r.err) == (1, "invalid pci device 'zz': use 'DDDD:BB:DD.F=description', "
                                  "each BDF once\n")
    assert not (state_dir / "bad").exists()
