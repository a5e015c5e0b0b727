"""The simulated xenstored: paths, permissions, quotas, transactions, watches."""

import sqlite3

import pytest

from pyxl.errors import PyxlError
from pyxl.xenstore import watches
from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.perms import DOMID_ANY, Perm, format_perms
from pyxl.xenstore.schema import apply_schema
from pyxl.xenstore.store import XenStore

DOMU = 5
OTHER = 6
LIVE = {0, DOMU, OTHER, 7}


def connect(db):
    """Autocommit, without an fsync or a journal file per write: durability is
    the state layer's business, not what these tests check."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=MEMORY")
    return conn


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "host.db")
    conn = connect(path)
    apply_schema(conn)
    XenStore.boot(conn)
    conn.close()
    return path


@pytest.fixture
def conn(db):
    c = connect(db)
    yield c
    c.close()


def store(conn, caller=0, **kw):
    return XenStore(conn, caller, domain_exists=lambda d: d in LIVE, **kw)


def make_domain(xs, d):
    """The part of libxl's layout the tests need (perms as libxl sets them)."""
    home = f"/local/domain/{d}"
    xs.mkdir(home)
    xs.set_perms(home, [Perm(0, "n"), Perm(d, "r")])
    xs.write(home + "/name", b"guest%d" % d)
    for key in ("control", "memory"):
        xs.mkdir(f"{home}/{key}")
    for key in ("control/shutdown", "data"):
        xs.write(f"{home}/{key}", b"")
        xs.set_perms(f"{home}/{key}", [Perm(d, "n")])
    xs.write(f"/libxl/{d}/type", b"pv")
    xs.introduce_domain(d)


@pytest.fixture
def dom0(conn):
    xs = store(conn)
    xs.write("/local/domain/0/name", b"Domain-0")
    make_domain(xs, DOMU)
    make_domain(xs, OTHER)
    return xs


@pytest.fixture
def domu(conn, dom0):
    return store(conn, DOMU)


def snapshot(conn):
    return (conn.execute("SELECT * FROM xs_node ORDER BY path").fetchall(),
            conn.execute("SELECT * FROM xs_perm_ref ORDER BY path, domid").fetchall(),
            conn.execute("SELECT * FROM xs_meta ORDER BY key").fetchall(),
            conn.execute("SELECT COUNT(*) FROM xs_change").fetchall())


def errno_of(fn, *args, **kw):
    with pytest.raises(XenStoreError) as info:
        fn(*args, **kw)
    return info.value.errno


# ---------------------------------------------------------------- basics

def test_boot_creates_xenstored_nodes(conn):
    xs = store(conn)
    assert xs.directory("/") == ["tool"]
    assert xs.directory("/tool") == ["xenstored"]
    assert format_perms(xs.get_perms("/")) == "n0"
    assert format_perms(xs.get_perms("@introduceDomain")) == "n0"
    assert format_perms(xs.get_perms("@releaseDomain")) == f"n0,r{DOMID_ANY}"


def test_error_is_pyxl_error_with_errno_name(conn):
    err = pytest.raises(XenStoreError, store(conn).read, "/nope").value
    assert isinstance(err, PyxlError)
    assert err.errno == "ENOENT" and err.message == "No such file or directory"


def test_write_creates_ancestors_with_empty_values_and_inherited_perms(conn):
    xs = store(conn)
    xs.write("/a/b/c", b"v")
    assert xs.read("/a") == b"" and xs.read("/a/b") == b""
    assert xs.read("/a/b/c") == b"v"
    assert format_perms(xs.get_perms("/a/b/c")) == "n0"


def test_mkdir_keeps_existing_value(conn):
    xs = store(conn)
    xs.write("/a", b"keep")
    xs.mkdir("/a")
    assert xs.read("/a") == b"keep"
    xs.mkdir("/a/new")
    assert xs.directory("/a") == ["new"]


def test_children_in_creation_order_even_after_recreate(conn):
    xs = store(conn)
    for name in ("zeta", "alpha", "mid"):
        xs.write("/d/" + name, b"")
    assert xs.directory("/d") == ["zeta", "alpha", "mid"]
    xs.rm("/d/zeta")
    xs.write("/d/zeta", b"")
    assert xs.directory("/d") == ["alpha", "mid", "zeta"]


def test_rm_semantics(conn):
    xs = store(conn)
    xs.write("/a/b/c", b"1")
    xs.rm("/a/missing")            # parent exists: fine
    assert errno_of(xs.rm, "/a/nope/x") == "ENOENT"
    assert errno_of(xs.rm, "/") == "EINVAL"
    xs.rm("/a")
    assert not xs.exists("/a/b/c") and not xs.exists("/a")
    assert xs.directory("/") == ["tool"]


def test_binary_values_round_trip(conn):
    xs = store(conn)
    xs.write("/bin", bytes(range(256)))
    assert xs.read("/bin") == bytes(range(256))


# ------------------------------------------------------------------ paths

@pytest.mark.parametrize("path", ["", "/a b", "/a$", "/a//b", "/a/", "a/", "@foo",
                                  "/a\u00e9", "/a.b"])
def test_bad_paths_are_einval(conn, path):
    xs = store(conn)
    before = snapshot(conn)
    assert errno_of(xs.write, path, b"x") == "EINVAL"
    assert errno_of(xs.read, path) == "EINVAL"
    assert snapshot(conn) == before


def test_special_nodes_only_where_allowed(conn):
    xs = store(conn)
    assert errno_of(xs.read, "@releaseDomain") == "EINVAL"
    assert errno_of(xs.directory, "@releaseDomain") == "EINVAL"
    xs.get_perms("@releaseDomain")
    xs.watch("@releaseDomain", "t")


def test_absolute_path_limit(conn):
    xs = store(conn)
    at_limit = "/" + "/".join(["a" * 99] * 30) + "/" + "b" * 71
    assert len(at_limit) == 3072
    assert errno_of(xs.read, at_limit) == "ENOENT"
    assert errno_of(xs.read, at_limit + "c") == "EINVAL"


def test_payload_limit_is_e2big(conn):
    xs = store(conn)
    assert errno_of(xs.write, "/big", b"x" * 4092) == "E2BIG"   # 4+1+4092 > 4096
    xs.write("/big", b"x" * 4091)
    assert len(xs.read("/big")) == 4091


def test_relative_paths_resolve_against_caller_home(conn, dom0, domu):
    dom0.write("name2", b"x")
    assert dom0.read("/local/domain/0/name2") == b"x"
    domu.write("data/k", b"v")
    assert dom0.read(f"/local/domain/{DOMU}/data/k") == b"v"
    assert domu.read("name") == b"guest5"
    assert domu.directory("data") == ["k"]


# ------------------------------------------------------------ permissions

def test_perm_helpers():
    p = Perm.parse("r5")
    assert p == Perm(5, "r") and str(p) == "r5" and p.bits == 1
    assert format_perms([Perm(0, "n"), Perm(5, "r")]) == "n0,r5"
    assert Perm.parse("b0x10").domid == 16        # strtol base 0, like xenstored
    for bad in ("x5", "r", "r5x", "", "rr"):
        with pytest.raises(XenStoreError):
            Perm.parse(bad)


DOMU_DENIED = [
    ("read", ("/local/domain/6/name",), "EACCES"),
    ("read", ("/libxl/5/type",), "EACCES"),
    ("read", ("/local/domain/6/nonexistent",), "EACCES"),   # masked
    ("read", ("/local/domain/5/nonexistent",), "ENOENT"),
    ("directory", ("/local/domain",), "EACCES"),
    ("directory", ("/",), "EACCES"),
    ("get_perms", ("/local/domain/6",), "EACCES"),
    ("get_perms", ("@introduceDomain",), "EACCES"),
    ("write", ("/local/domain/5/name", b"evil"), "EACCES"),
    ("write", ("/local/domain/5/newkey", b"x"), "EACCES"),
    ("write", ("/local/domain/6/data/x", b"x"), "EACCES"),
    ("write", ("/tool/x", b"x"), "EACCES"),
    ("mkdir", ("/local/domain/5/memory/x",), "EACCES"),
    ("mkdir", ("/local/domain/5/name",), "EACCES"),          # exists, not writable
    ("rm", ("/local/domain/5/name",), "EACCES"),
    ("rm", ("/local/domain/5/missing",), "EACCES"),          # parent not writable
    ("rm", ("/local/domain/6",), "EACCES"),
    ("set_perms", ("/local/domain/5/name", ["n5"]), "EACCES"),
    ("set_perms", ("/local/domain/5", ["n0", "b5"]), "EACCES"),
    ("set_perms", ("/local/domain/5/missing", ["n5"]), "EACCES"),
    ("set_perms", ("/local/domain/5/data", ["n6"]), "EPERM"),   # owner change
    ("set_perms", ("@releaseDomain", ["n0"]), "EACCES"),
]


# What stops dom0 in that list: reading or re-permissioning a node that is not
# there (rm of a missing node whose parent exists succeeds, as in xenstored).
DOM0_ENOENT = {
    ("read", "/local/domain/6/nonexistent"),
    ("read", "/local/domain/5/nonexistent"),
    ("set_perms", "/local/domain/5/missing"),
}


@pytest.mark.parametrize("op,args,errno", DOMU_DENIED,
                         ids=[f"{o}-{a[0]}-{e}" for o, a, e in DOMU_DENIED])
def test_permission_matrix(conn, dom0, domu, op, args, errno):
    before = snapshot(conn)
    assert errno_of(getattr(domu, op), *args) == errno
    assert snapshot(conn) == before
    # dom0 bypasses every check: only a genuinely missing node stops it.
    if (op, args[0]) in DOM0_ENOENT:
        assert errno_of(getattr(dom0, op), *args) == "ENOENT"
        return
    result = getattr(dom0, op)(*args)
    if op == "read":
        assert isinstance(result, bytes)
    elif op == "write":
        assert dom0.read(args[0]) == args[1]
    elif op == "mkdir":
        assert dom0.exists(args[0])
    elif op == "rm":
        assert not dom0.exists(args[0])
    elif op == "set_perms":
        assert [str(p) for p in dom0.get_perms(args[0])] == args[1]


def test_domu_allowed_operations(conn, dom0, domu):
    assert domu.read("/local/domain/5/name") == b"guest5"
    assert domu.directory("/local/domain/5") == ["name", "control", "memory", "data"]
    domu.write("/local/domain/5/control/shutdown", b"")
    domu.write("/local/domain/5/data/a/b", b"1")
    domu.rm("/local/domain/5/data/missing")
    assert errno_of(domu.rm, "/local/domain/5/data/no/such") == "ENOENT"
    domu.set_perms("/local/domain/5/data/a", ["n5", "r6"])
    assert format_perms(dom0.get_perms("/local/domain/5/data/a")) == "n5,r6"
    assert store(conn, OTHER).read("/local/domain/5/data/a") == b""
    domu.rm("/local/domain/5/data/a")
    assert not dom0.exists("/local/domain/5/data/a/b")


def test_enoent_vs_eacces_decided_on_nearest_ancestor(conn, dom0, domu):
    dom0.write("/pub/open", b"")
    dom0.set_perms("/pub", ["n0", "r5"])
    # /pub/x/y: nearest existing ancestor /pub is readable -> ENOENT.
    assert errno_of(domu.read, "/pub/x/y") == "ENOENT"
    # An existing but unreadable node is EACCES even under a readable parent.
    assert errno_of(domu.read, "/pub/open") == "EACCES"
    # Below the unreadable node, a missing path is masked as EACCES.
    assert errno_of(domu.read, "/pub/open/missing") == "EACCES"
    # A later entry can open a node inside an unreadable parent.
    dom0.write("/secret/inner", b"s")
    dom0.set_perms("/secret/inner", ["n0", "r5"])
    assert domu.read("/secret/inner") == b"s"
    assert errno_of(domu.read, "/secret") == "EACCES"


def test_permission_check_order(conn, dom0):
    dom0.write("/p", b"")
    dom0.set_perms("/p", ["r0", "w5", "n6", "b7"])
    assert store(conn, 5).exists("/p") is False
    store(conn, 5).write("/p", b"5")
    assert errno_of(store(conn, 6).read, "/p") == "EACCES"
    assert store(conn, 7).read("/p") == b"5"
    # Not listed: entry 0's letter is the default.
    assert store(conn, 9).read("/p") == b"5"
    dom0.set_perms("/p", ["n0", f"r{DOMID_ANY}"])
    assert store(conn, 9).read("/p") == b"5"


def test_owner_has_all_rights(conn, dom0):
    dom0.write("/own", b"")
    dom0.set_perms("/own", ["n5"])
    s5 = store(conn, 5)
    s5.write("/own", b"mine")
    s5.set_perms("/own", ["n5", "r6"])
    assert s5.read("/own") == b"mine"


def test_inheritance_on_create(conn, dom0, domu):
    dom0.write("/pub", b"")
    dom0.set_perms("/pub", ["w0", "r6"])
    domu.write("/pub/a/b", b"x")              # default letter w lets domU create
    assert format_perms(dom0.get_perms("/pub/a")) == "w5,r6"
    assert format_perms(dom0.get_perms("/pub/a/b")) == "w5,r6"
    dom0.write("/pub/c", b"")                  # dom0 keeps the parent's owner
    assert format_perms(dom0.get_perms("/pub/c")) == "w0,r6"
    domu.write("/local/domain/5/data/k", b"")
    assert format_perms(dom0.get_perms("/local/domain/5/data/k")) == "n5"


def test_set_perms_rules(conn, dom0, domu):
    dom0.write("/n", b"")
    assert errno_of(dom0.set_perms, "/n", []) == "EINVAL"
    assert errno_of(dom0.set_perms, "/n", ["q5"]) == "EINVAL"
    assert errno_of(dom0.set_perms, "/n", ["r"]) == "EINVAL"
    assert errno_of(dom0.set_perms, "/n", ["n42"]) == "ENOENT"     # dead owner
    assert errno_of(dom0.set_perms, "/missing", ["n0"]) == "ENOENT"
    # A dead non-owner entry is kept (and shown) but ignored.
    dom0.set_perms("/n", ["n0", "r42"])
    perms = dom0.get_perms("/n")
    assert format_perms(perms) == "n0,r42" and perms[1].ignore
    assert errno_of(store(conn, 42).read, "/n") == "EACCES"
    dom0.set_perms("/n", ["n5"])          # dom0 may give a node away
    assert errno_of(domu.set_perms, "/n", ["n0"]) == "EPERM"


def test_dom0_may_do_everything(conn, dom0):
    dom0.write("/local/domain/5/control/shutdown", b"poweroff")
    dom0.set_perms("/local/domain/5/data", ["n6"])
    dom0.rm("/local/domain/6")
    assert dom0.read("/libxl/5/type") == b"pv"


# ----------------------------------------------------------------- quotas

def test_nodes_quota_default_is_999(conn, dom0, domu):
    owned = conn.execute("SELECT COUNT(*) FROM xs_node WHERE owner = 5").fetchone()[0]
    paths = [f"data/d{i // 100}" + (f"/n{i % 100}" if i % 100 else "") for i in range(1000)]
    for p in paths[:999 - owned]:       # one new node each (dirs first)
        domu.mkdir(p)
    assert conn.execute("SELECT COUNT(*) FROM xs_node WHERE owner = 5").fetchone()[0] == 999
    before = snapshot(conn)
    assert errno_of(domu.write, "data/one-more", b"") == "ENOSPC"
    assert snapshot(conn) == before


def test_nodes_quota_counts_implicit_ancestors(conn, dom0, domu):
    dom0.set_quota("nodes", 5, domid=DOMU)     # owns 2 already: 2 more allowed
    before = snapshot(conn)
    assert errno_of(domu.write, "data/a/b/c", b"") == "ENOSPC"
    assert snapshot(conn) == before
    domu.write("data/a/b", b"")
    assert errno_of(domu.mkdir, "data/c") == "ENOSPC"


def test_quotas_do_not_bind_dom0(conn, dom0, domu):
    dom0.set_quota("nodes", 2)
    dom0.set_quota("node-size", 100)
    for i in range(5):
        dom0.write(f"/many/{i}", b"x" * 200)
    assert dom0.directory("/many") == [str(i) for i in range(5)]
    assert {dom0.read(f"/many/{i}") for i in range(5)} == {b"x" * 200}
    # the same quotas are in force for a guest
    assert errno_of(domu.write, "data", b"x" * 200) == "ENOSPC"
    assert errno_of(domu.write, "data/new", b"") == "ENOSPC"


def test_node_size_quota(conn, dom0, domu):
    # 16-byte header + 8 per perm (1 here) + value: reject at >= 2048.
    domu.write("data/v", b"x" * 2023)
    assert errno_of(domu.write, "data/v", b"x" * 2024) == "ENOSPC"
    assert len(domu.read("data/v")) == 2023


def test_node_size_counts_child_names_of_parent(conn, dom0, domu):
    dom0.set_quota("nodes", 0)      # 0 disables a quota
    domu.mkdir("data/dir")           # 16 + 8 + childlen
    name = "c" * 99
    for i in range(20):             # 20 * (3 + 99 + 1) = 2060 > 2024
        try:
            domu.write(f"data/dir/{i:02d}{name}", b"")
        except XenStoreError as e:
            assert e.errno == "ENOSPC"
            break
    else:
        pytest.fail("child list never hit node-size")
    assert i == 19                  # 19 * 103 + 24 = 1981 ok, 20th = 2084


def test_path_max_quota(conn, dom0, domu):
    ok = "data/" + "a" * (2047 - 5)
    assert errno_of(domu.read, ok) == "ENOENT"
    assert errno_of(domu.read, ok + "a") == "EINVAL"
    assert errno_of(dom0.read, "/local/domain/5/" + ok + "a") == "ENOENT"


def test_node_permissions_quota(conn, dom0, domu):
    domu.set_perms("data", ["n5", "r6", "r7", "r0"])
    assert errno_of(domu.set_perms, "data", ["n5", "r6", "r7", "r0", "w6"]) == "ENOSPC"
    dom0.set_perms("/local/domain/5/data", ["n5", "r6", "r7", "r0", "w6", "w7"])


def test_watches_quota(conn, dom0, domu):
    for i in range(127):
        domu.watch("data", f"t{i}")
    assert errno_of(domu.watch, "data", "t127") == "ENOSPC"
    # Counted per domain, across connections.
    assert errno_of(store(conn, DOMU, conn_id="other").watch, "data", "x") == "ENOSPC"


def test_transactions_quota(conn, dom0, domu):
    ids = [domu.transaction_start() for _ in range(9)]
    assert errno_of(domu.transaction_start) == "ENOSPC"
    domu.transaction_end(ids[0], False)
    domu.transaction_start()
    for _ in range(12):
        dom0.transaction_start()


def test_transaction_nodes_quota(conn, dom0, domu):
    dom0.set_quota("transaction-nodes", 4, domid=DOMU)
    tx = domu.transaction_start()
    domu.read("name", tx)
    domu.read("data", tx)
    domu.read("name", tx)        # same node again: not counted twice
    domu.read("memory", tx)
    assert errno_of(domu.read, "control", tx) == "ENOSPC"


def test_quota_requests(conn, dom0, domu):
    assert errno_of(domu.get_quota, "nodes") == "EACCES"
    assert errno_of(domu.set_quota, "nodes", 5) == "EACCES"
    assert dom0.get_quota("nodes") == 1000
    assert dom0.get_quota("watches") == 128
    assert dom0.get_quota("soft-memory") == 2 * 1024 * 1024
    assert errno_of(dom0.get_quota, "bogus") == "EINVAL"
    assert errno_of(dom0.get_quota, "soft-nodes") == "EINVAL"
    assert errno_of(dom0.get_quota, "nodes", 42) == "ENOENT"
    dom0.set_quota("nodes", 50)
    dom0.set_quota("nodes", 20, domid=DOMU)
    assert dom0.get_quota("nodes") == 50
    assert dom0.get_quota("nodes", DOMU) == 20
    assert dom0.get_quota("nodes", OTHER) == 50
    assert "node-permissions" in dom0.quota_names()


# ----------------------------------------------------------- transactions

@pytest.fixture
def abc(conn):
    xs = store(conn)
    for k in "abc":
        xs.write("/" + k, b"0")
    return xs


def test_transaction_isolation_and_commit(conn, abc):
    tx = abc.transaction_start()
    abc.write("/a", b"1", tx)
    abc.write("/new/x", b"n", tx)
    abc.rm("/b", tx)
    assert abc.read("/a", tx) == b"1" and abc.read("/a") == b"0"
    assert abc.read("/new/x", tx) == b"n" and not abc.exists("/new")
    assert not abc.exists("/b", tx) and abc.exists("/b")
    assert abc.directory("/", tx) == ["tool", "a", "c", "new"]
    abc.transaction_end(tx, True)
    assert abc.read("/a") == b"1" and abc.read("/new/x") == b"n"
    assert abc.directory("/") == ["tool", "a", "c", "new"]
    assert errno_of(abc.read, "/a", tx) == "ENOENT"      # id gone


def test_transaction_abort_discards(conn, abc):
    before = snapshot(conn)[0]
    tx = abc.transaction_start()
    abc.write("/a", b"1", tx)
    abc.transaction_end(tx, False)
    assert snapshot(conn)[0] == before


def test_conflict_on_node_read_then_changed(conn, abc):
    tx = abc.transaction_start()
    abc.read("/a", tx)
    abc.write("/a", b"outside")
    abc.write("/b", b"1", tx)
    assert errno_of(abc.transaction_end, tx, True) == "EAGAIN"
    assert abc.read("/b") == b"0"
    assert errno_of(abc.transaction_end, tx, False) == "ENOENT"


def test_conflict_on_node_deleted_or_created_outside(conn, abc):
    tx = abc.transaction_start()
    abc.read("/a", tx)
    abc.rm("/a")
    assert errno_of(abc.transaction_end, tx, True) == "EAGAIN"
    tx = abc.transaction_start()
    assert not abc.exists("/later", tx)
    abc.write("/later", b"")
    assert errno_of(abc.transaction_end, tx, True) == "EAGAIN"


def test_no_conflict_with_unrelated_writes(conn, abc):
    tx = abc.transaction_start()
    abc.read("/a", tx)
    abc.write("/b", b"1", tx)
    abc.write("/c", b"outside")
    abc.transaction_end(tx, True)
    assert abc.read("/b") == b"1" and abc.read("/c") == b"outside"


def test_read_only_in_other_tx_does_not_conflict(conn, abc):
    t1 = abc.transaction_start()
    t2 = abc.transaction_start()
    abc.read("/a", t1)
    abc.read("/b", t2)
    abc.write("/b", b"1", t1)
    abc.write("/a", b"2", t2)
    abc.transaction_end(t1, True)                           # /a unchanged globally
    assert errno_of(abc.transaction_end, t2, True) == "EAGAIN"  # /b changed by t1


def test_write_conflicts_because_xenstored_reads_before_writing(conn, abc):
    # xenstored reads a node (recording its generation) before every write,
    # so a node only *written* in a transaction conflicts too.
    tx = abc.transaction_start()
    abc.write("/a", b"tx", tx)
    abc.write("/a", b"outside")
    assert errno_of(abc.transaction_end, tx, True) == "EAGAIN"
    assert abc.read("/a") == b"outside"


def test_transaction_ids(conn, dom0, domu):
    assert errno_of(dom0.read, "/a", 999) == "ENOENT"
    assert errno_of(dom0.transaction_end, 999, True) == "ENOENT"
    assert errno_of(dom0.transaction_end, 0, True) == "ENOENT"
    tx = dom0.transaction_start()
    assert errno_of(dom0.transaction_start, tx) == "EBUSY"
    assert errno_of(domu.read, "name", tx) == "ENOENT"      # not the domU's


def test_transaction_spans_processes(db):
    c1, c2, c3 = connect(db), connect(db), connect(db)
    tx = store(c1).transaction_start()
    store(c2).write("/from/two", b"2", tx)
    assert not store(c3).exists("/from/two")
    store(c3).transaction_end(tx, True)
    assert store(c1).read("/from/two") == b"2"


def test_transaction_helper_retries_on_eagain(db):
    c1, c2 = connect(db), connect(db)
    xs, other = store(c1), store(c2)
    xs.write("/cnt", b"0")
    calls = []

    def bump(t):
        n = int(t.read("/cnt"))
        if not calls:
            other.write("/cnt", b"10")          # someone interferes once
        calls.append(n)
        t.write("/cnt", str(n + 1).encode())
        return n

    assert xs.transaction(bump) == 10
    assert calls == [0, 10]
    assert xs.read("/cnt") == b"11"


def test_transaction_helper_aborts_on_error(conn, abc):
    def boom(t):
        t.write("/a", b"x")
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        abc.transaction(boom)
    assert abc.read("/a") == b"0"
    assert conn.execute("SELECT COUNT(*) FROM xs_tx").fetchone()[0] == 0


def _dom0_transaction_body(t, interfere):
    """Every kind of request a toolstack makes in one transaction, including
    a failing one (which must change nothing) and a write by someone else
    to a node the transaction read (a conflict: the body runs again)."""
    t.write("/a", b"1")
    t.write("/new/deep/node", b"v")
    t.set_perms("/new/deep", [Perm(0, "n"), Perm(DOMU, "r")])
    t.set_perms("/new/deep", [Perm(0, "n"), Perm(OTHER, "b")])
    t.mkdir("/new/dir")
    assert t.directory("/new") == ["deep", "dir"]
    with pytest.raises(XenStoreError):
        t.rm("/q/missing/child")              # ENOENT: nothing recorded, nothing changed
    t.rm("/b")
    t.write("/c/x", b"2")
    t.rm("/c")
    interfere()
    return t.read("/a")


def _run_both_ways(conn, via_helper: bool):
    """The same dom0 transaction through XenStore.transaction (kept in
    memory) or through transaction_start/end (kept in xs_tx_node)."""
    xs = store(conn)
    for k in "abcq":
        xs.write("/" + k, b"0")
    xs.watch("/", "tok")
    runs = []

    def interfere():
        if not runs:
            store(conn).write("/a", b"outside")   # read by the transaction: EAGAIN
        else:   # read only by the failed request, whose reads do not count
            store(conn).write("/q/missing", b"")
        runs.append(1)

    if via_helper:
        assert xs.transaction(lambda t: _dom0_transaction_body(t, interfere)) == b"1"
    else:
        from pyxl.xenstore.store import Transaction
        for _ in range(2):
            tx = xs.transaction_start()
            _dom0_transaction_body(Transaction(xs, tx), interfere)
            try:
                xs.transaction_end(tx, True)
                break
            except XenStoreError as e:
                assert e.errno == "EAGAIN"
    changes = conn.execute("SELECT path, match, perms, parent_perms, old_perms"
                           " FROM xs_change ORDER BY seq").fetchall()
    return snapshot(conn), changes, len(runs)


def test_dom0_transaction_in_memory_matches_stored_one(tmp_path):
    results = []
    for via_helper in (True, False):
        conn = connect(str(tmp_path / f"h{via_helper}.db"))
        apply_schema(conn)
        XenStore.boot(conn)
        results.append(_run_both_ways(conn, via_helper))
        assert conn.execute("SELECT COUNT(*) FROM xs_tx").fetchone()[0] == 0
        conn.close()
    assert results[0][2] == 2                      # the conflict made it run twice
    assert results[0] == results[1]


def test_transaction_commit_rechecks_nodes_quota(conn, dom0, domu):
    dom0.write("/local/domain/5/data2", b"")
    dom0.set_perms("/local/domain/5/data2", ["n5"])
    dom0.set_quota("nodes", 5, domid=DOMU)     # owns 3: one more allowed
    tx = domu.transaction_start()
    domu.write("data/a", b"", tx)               # fine in the transaction's view
    domu.write("data2/b", b"")                  # outside, other parent: owns 4
    assert errno_of(domu.transaction_end, tx, True) == "ENOSPC"
    assert not dom0.exists("/local/domain/5/data/a")


# ---------------------------------------------------------------- watches

def events(xs, since=0):
    return [(e.path, e.token) for e in xs.pending_events(since_seq=since)]


def test_watch_fires_once_on_registration(conn):
    xs = store(conn)
    xs.watch("/a", "tok")
    assert events(xs) == [("/a", "tok")]


def test_watch_matches_self_and_descendants(conn):
    xs = store(conn)
    xs.watch("/a", "t")
    seq = xs.last_seq()
    for p in ("/a", "/a/b", "/a/b/c", "/ab", "/b"):
        xs.write(p, b"")
    assert events(xs, seq) == [("/a", "t"), ("/a/b", "t"), ("/a/b/c", "t")]


def test_watch_depth(conn):
    xs = store(conn)
    xs.watch("/a", "d0", depth=0)
    xs.watch("/a", "d1", depth=1)
    xs.watch("/", "r1", depth=1)
    seq = xs.last_seq()
    for p in ("/a", "/a/b", "/a/b/c"):
        xs.write(p, b"")
    assert events(xs, seq) == [("/a", "d0"), ("/a", "d1"), ("/a", "r1"),
                               ("/a/b", "d1")]
    assert errno_of(xs.watch, "/a", "neg", depth=-1) == "EINVAL"


def test_root_watch_sees_everything_but_special(conn):
    xs = store(conn)
    xs.watch("/", "root")
    seq = xs.last_seq()
    xs.write("/x/y", b"")
    xs.introduce_domain(7)
    assert events(xs, seq) == [("/x/y", "root")]


def test_rm_fires_for_root_and_exact_watches_on_descendants(conn):
    xs = store(conn)
    xs.write("/a/b/c", b"")
    xs.write("/a/b/d", b"")
    xs.watch("/a/b/c", "exact")
    xs.watch("/a/b/nothere", "none")
    xs.watch("/", "root")
    seq = xs.last_seq()
    xs.rm("/a")
    assert events(xs, seq) == [("/a/b/c", "exact"), ("/a", "root")]


def test_relative_watch_reports_relative_paths(conn, dom0, domu):
    domu.watch("data", "rel")
    seq = domu.last_seq() - 1
    domu.write("data/x", b"")
    assert events(domu, seq) == [("data", "rel"), ("data/x", "rel")]


def test_watch_duplicates_and_unwatch(conn):
    xs = store(conn)
    xs.watch("/a", "t")
    assert errno_of(xs.watch, "/a", "t") == "EEXIST"
    xs.watch("/a", "t2")
    store(conn, conn_id="another").watch("/a", "t")      # other connection: fine
    xs.unwatch("/a", "t")
    assert errno_of(xs.unwatch, "/a", "t") == "ENOENT"
    seq = xs.last_seq()
    xs.write("/a", b"")
    assert events(xs, seq) == [("/a", "t2")]


def test_watch_events_filtered_by_read_permission(conn, dom0, domu):
    domu.watch("/local/domain/6", "other")
    domu.watch("/local/domain/5", "mine")
    seq = domu.last_seq()
    dom0.write("/local/domain/6/x", b"")
    dom0.write("/local/domain/5/name", b"renamed")
    dom0.write("/libxl/5/x", b"")
    assert events(domu, seq) == [("/local/domain/5/name", "mine")]


def test_watch_event_when_perms_removed(conn, dom0, domu):
    dom0.write("/local/domain/5/data/k", b"")
    domu.watch("/local/domain/5/data/k", "k")
    seq = domu.last_seq()
    # Old perms let the domU read: it learns it lost access.
    dom0.set_perms("/local/domain/5/data/k", ["n0"])
    assert events(domu, seq) == [("/local/domain/5/data/k", "k")]


def test_watch_registered_later_sees_nothing_earlier(conn):
    xs = store(conn)
    seq = xs.last_seq()
    xs.write("/a", b"")
    xs.watch("/a", "late")
    assert events(xs, seq) == [("/a", "late")]   # only its own first event


def test_transaction_events_fire_on_commit(conn, abc):
    abc.watch("/a", "t")
    seq = abc.last_seq()
    tx = abc.transaction_start()
    abc.write("/a", b"1", tx)
    abc.write("/a/sub", b"1", tx)
    assert events(abc, seq) == []
    abc.transaction_end(tx, True)
    assert events(abc, seq) == [("/a", "t"), ("/a/sub", "t")]
    seq = abc.last_seq()
    tx = abc.transaction_start()
    abc.write("/a", b"2", tx)
    abc.transaction_end(tx, False)
    assert events(abc, seq) == []


def test_watch_seen_from_another_process(db):
    c1, c2 = connect(db), connect(db)
    watcher = store(c1, conn_id="xenstore-watch")
    watcher.watch("/w", "/w")
    seq = watcher.last_seq()
    store(c2).write("/w/k", b"v")
    assert [(e.path, e.token) for e in watcher.pending_events(since_seq=seq)] == \
        [("/w/k", "/w")]
    assert [e.path for e in store(c2).changes_since(seq)] == ["/w/k"]


def test_introduce_domain_events(conn):
    xs = store(conn)
    xs.watch("@introduceDomain", "plain")
    xs.watch("@introduceDomain", "deep", depth=1)
    xs.watch("@introduceDomain", "zero", depth=0)
    seq = xs.last_seq()
    xs.introduce_domain(7)
    xs.introduce_domain(7)            # already introduced: no new event
    assert events(xs, seq) == [("@introduceDomain", "plain"),
                               ("@introduceDomain/7", "deep")]
    assert xs.is_domain_introduced(7)
    assert errno_of(store(conn, 7).introduce_domain, 8) == "EACCES"


def test_release_domain(conn, dom0, domu):
    domu.write("data/k", b"")
    domu.watch("data", "mine")
    dom0.write("/shared", b"")
    dom0.set_perms("/shared", ["n0", "r5", "r6"])
    dom0.watch("@releaseDomain", "any")
    dom0.watch(f"@releaseDomain/{OTHER}", "six")
    dom0.watch(f"@releaseDomain/{DOMU}", "five")
    dom0.watch("/local/domain/5/control/shutdown", "gone")
    observer = store(conn, OTHER)
    observer.watch("@releaseDomain", "obs")
    seq = dom0.last_seq()
    dom0.release_domain(DOMU)
    # Nodes owned by the domain are deleted; entries naming it dropped.
    assert not dom0.exists("/local/domain/5/data")
    assert not dom0.exists("/local/domain/5/control/shutdown")
    assert dom0.exists("/local/domain/5/name")
    assert format_perms(dom0.get_perms("/shared")) == "n0,r6"
    assert format_perms(dom0.get_perms("/local/domain/5")) == "n0"
    assert conn.execute("SELECT COUNT(*) FROM xs_watch WHERE domid = 5").fetchone()[0] == 0
    assert events(dom0, seq) == [("/local/domain/5/control/shutdown", "gone"),
                                 ("@releaseDomain", "any"), (f"@releaseDomain/{DOMU}", "five")]
    assert events(observer, seq) == [("@releaseDomain", "obs")]   # r DOMID_ANY
    assert errno_of(dom0.release_domain, DOMU) == "ENOENT"
    assert errno_of(dom0.release_domain, 0) == "EINVAL"
    assert errno_of(observer.release_domain, OTHER) == "EACCES"


def test_domain_shutdown_fires_once_until_resume(conn, dom0):
    dom0.watch(f"@releaseDomain/{DOMU}", "five")
    seq = dom0.last_seq()
    dom0.domain_shutdown(DOMU)
    dom0.domain_shutdown(DOMU)
    assert events(dom0, seq) == [(f"@releaseDomain/{DOMU}", "five")]
    dom0.resume(DOMU)
    dom0.domain_shutdown(DOMU)
    assert len(events(dom0, seq)) == 2


def test_change_log_is_pruned(conn, monkeypatch):
    monkeypatch.setattr(watches, "CHANGE_LOG_KEEP", 10)
    monkeypatch.setattr(watches, "_PRUNE_EVERY", 1)
    xs = store(conn)
    for i in range(50):
        xs.write("/p", b"%d" % i)
    assert conn.execute("SELECT COUNT(*) FROM xs_change").fetchone()[0] <= 11
    assert xs.oldest_seq() > 30


# ------------------------------------------------------------------- walk

def test_walk_lists_subtree_in_order_with_unreadable_marked(conn, dom0, domu):
    dom0.write("/local/domain/5/memory/target", b"1024")
    dom0.write("/local/domain/5/memory/secret/x", b"")
    dom0.set_perms("/local/domain/5/memory/secret", ["n0"])
    got = [(e.name, e.depth, e.value, e.error) for e in domu.walk("/local/domain/5")]
    assert got == [("name", 0, b"guest5", None), ("control", 0, b"", None),
                   ("shutdown", 1, b"", None), ("memory", 0, b"", None),
                   ("target", 1, b"1024", None), ("secret", 1, None, "EACCES"),
                   ("data", 0, b"", None)]
    assert errno_of(domu.walk, "/local/domain/6") == "EACCES"
