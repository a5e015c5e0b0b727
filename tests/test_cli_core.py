"""xl's command-line behaviour: lookup, help, global options, exit codes."""

from __future__ import annotations

from pyxl.cli.cmdtable import CMD_TABLE, lookup

from conftest import XL_COMMAND_NAMES

LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"


def test_help_lists_every_command_in_xl_layout(pyxl):
    r = pyxl("help")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[:4] == ["Usage xl [-vfNtT] <subcommand> [args]", "",
                         "xl full list of subcommands:", ""]
    # bash-completion takes field 1 of every line matching /^ [^ ]/ after line 4
    names = [line.split()[0] for line in lines[4:] if line.startswith(" ") and line[1] != " "]
    assert names == [spec.name for spec in CMD_TABLE]
    assert " create              Create a domain from config file <filename>" in lines


def test_no_subcommand_prints_help_and_fails(pyxl):
    r = pyxl()
    assert r.code == 1
    assert r.out.startswith("Usage xl [-vfNtT] <subcommand> [args]\n\n")


def test_help_for_one_command_is_byte_exact(pyxl):
    r = pyxl("help", "list")
    assert r.code == 0
    assert r.out == (
        "Usage: xl [-vtT] list [options] [Domain]\n\n\n"
        "List information about all/some domains.\n\n"
        "Options:\n\n"
        "-l, --long              Output all VM details\n"
        "-v, --verbose           Prints out UUIDs and security context\n"
        "-Z, --context           Prints out security context\n"
        "-c, --cpupool           Prints the cpupool the domain is in\n"
        "-n, --numa              Prints out NUMA node affinity\n")
    assert pyxl("list", "-h").out == r.out
    assert pyxl("list", "--help").code == 0


def test_help_flags_f_and_n_follow_the_table(pyxl):
    assert pyxl("help", "create").out.startswith("Usage: xl [-vtTfN] create <ConfigFile>")
    assert pyxl("help", "destroy").out.startswith("Usage: xl [-vtTf] destroy [options] <Domain>")


def test_help_unknown_command(pyxl):
    r = pyxl("help", "frobnicate")
    assert (r.code, r.out) == (0, 'command "frobnicate" not implemented\n')


def test_prefix_matching_like_cmdtable_lookup():
    assert lookup("li").name == "list"
    assert lookup("cr").name == "create"
    assert lookup("domid").name == "domid"
    assert lookup("dom") is None  # domid, domname: ambiguous
    assert lookup("un").name == "unpause"
    assert lookup("xyz") is None


def test_prefix_runs_the_command(pyxl):
    assert pyxl("li").out.startswith(LIST_HEADER)


def test_unknown_and_ambiguous_commands(pyxl):
    r = pyxl("frobnicate")
    assert (r.code, r.err, r.out) == (1, "command not implemented\n", "")
    assert pyxl("d").code == 1  # destroy, domid, domname, dmesg


def test_unknown_global_option(pyxl):
    r = pyxl("-x", "list")
    assert r.code == 1
    assert r.err.endswith("unknown global option\n")


def test_dryrun_refused_by_commands_that_cannot(pyxl):
    r = pyxl("-N", "list")
    assert (r.code, r.err) == (1, "command does not implement -N (dryrun) option\n")


def test_bad_option_exits_2_with_xl_message(pyxl):
    r = pyxl("list", "-q")
    assert (r.code, r.err) == (2, "option `q' not supported.\n")


def test_missing_argument_exits_2_with_help(pyxl):
    r = pyxl("pause")
    assert r.code == 2
    assert r.err == "'xl pause' requires at least 1 argument.\n\n"
    assert r.out.startswith("Usage: xl [-vtTf] pause <Domain>")
    r = pyxl("rename", "x")
    assert r.err == "'xl rename' requires at least 2 arguments.\n\n"


def test_python_m_pyxl_works():
    from conftest import spawn

    p = spawn("list")
    assert p.returncode == 0
    assert p.stdout.startswith(LIST_HEADER)


# xl_cmdtable.c's order: `xl help` lists the commands in it, and pyxl's own
# (4.5's sched-sedf among them) come after them.
XL_ORDER = XL_COMMAND_NAMES


def test_help_lists_xls_commands_in_xls_order(pyxl):
    listed = [line.split()[0] for line in pyxl("help").out.splitlines()
              if line.startswith(" ") and line.split()]
    xl = [name for name in listed if name in XL_ORDER]
    assert xl == sorted(xl, key=XL_ORDER.index)
    assert len(xl) > 60 and listed.index("host") > listed.index(xl[-1])


def test_an_exact_name_wins_however_many_names_it_prefixes():
    from pyxl.cli.cmdtable import cmdtable_lookup

    names = ("sched-credit2", "sched-credit3", "sched-credit")
    assert cmdtable_lookup("sched-credit", names) == "sched-credit"
    assert cmdtable_lookup("sched-cr", names) is None  # ambiguous
    assert cmdtable_lookup("sched-credit3", names) == "sched-credit3"
    assert cmdtable_lookup("x", names) is None


def test_prefixes_resolve_over_xls_names_and_pyxls_own_take_none(pyxl):
    """`clo` prefixes only pyxl's `clock` (`cl` is xl's `claims`), `sched-s`
    only pyxl's sched-sedf: pyxl's own answer to their whole names only."""
    from pyxl.cli.cmdtable import XL_COMMANDS

    assert len(XL_COMMANDS) == 96 and XL_ORDER == [*XL_COMMANDS[:96 - 2], "dt-overlay",
                                                   *XL_COMMANDS[-2:]]
    assert lookup("cl").name == "claims"
    for word in ("clo", "sched-s", "hos", "xenstore-l", "grant"):
        r = pyxl(word)
        assert (r.code, r.err) == (1, "command not implemented\n"), word
    assert lookup("clock").name == "clock"
    assert lookup("sched-sedf").name == "sched-sedf"
    assert lookup("cpupool-n").name == "cpupool-numa-split"


def test_help_for_a_name_that_is_not_utf8_gives_the_bytes_back(state_dir):
    import os
    import subprocess
    import sys

    # a UTF-8 locale's stdout refuses what is not UTF-8 (the C locale's escapes it)
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    done = subprocess.run([sys.executable, "-m", "pyxl", "help", b"\xff"],
                          capture_output=True, env=env)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == b'command "\xff" not implemented\n'
