"""libxlutil's config language: grammar, values, messages, xl.conf.

Expected messages were checked against libxlutil itself (its lexer and
parser built from Xen's sources), byte for byte.
"""

import pytest

from pyxl.errors import PyxlError
from pyxl.cnum import strtol
from pyxl.toolstack.libxlu_cfg import (
    CfgSyntaxError, PYTHON_WARNING, apply_overrides, parse_cfg)
from pyxl.toolstack.xl_conf import parse_global_config


def err(text, source="F"):
    with pytest.raises(CfgSyntaxError) as info:
        parse_cfg(text, source)
    return info.value


# -- values -------------------------------------------------------------------

def test_atoms_strings_and_numbers_are_kept_as_text():
    cfg = parse_cfg("name = \"vm1\"\nmemory = 512\nkernel = '/boot/x'\nhex = 0x1f\n", "F")
    assert cfg.raw("name") == "vm1"
    assert cfg.raw("memory") == "512"
    assert cfg.raw("kernel") == "/boot/x"
    assert cfg.raw("hex") == "0x1f"
    assert cfg.lineno("kernel") == 3


def test_numbers_decimal_octal_hex_when_read_as_long():
    cfg = parse_cfg("a = 0x10\nb = 010\nc = 12\nd = \"-7\"\ne = \" 9\"\n", "F")
    assert [cfg.get_long(k) for k in "abcde"] == [16, 8, 12, -7, 9]
    assert cfg.report == []


def test_invalid_and_out_of_range_numbers_warn_like_libxlutil():
    cfg = parse_cfg("c = 1e\nd = 99999999999999999999\ne = 08\nf = [1]\n", "x.cfg")
    assert cfg.get_long("c") is None
    assert cfg.get_long("d") is None
    assert cfg.get_long("e") is None
    assert cfg.get_long("f") is None
    assert cfg.report == [
        "x.cfg:1: warning: parameter `c' is not a valid number",
        "x.cfg:2: warning: parameter `d' could not be parsed as a number: "
        "Numerical result out of range",
        "x.cfg:3: warning: parameter `e' is not a valid number",
        "x.cfg:4: warning: parameter `f' is a list but should be a single value",
    ]


def test_bounded_long_messages():
    cfg = parse_cfg("a = 5\n", "F")
    assert cfg.get_bounded_long_rc("a", 10, 20)[0] != 0
    assert cfg.get_bounded_long_rc("a", 0, 4)[0] != 0
    assert cfg.report == ["F:1: warning: value `5' is smaller than minimum bound '10'",
                          "F:1: warning: value `5' is greater than maximum bound '4'"]


def test_strtol_matches_c():
    assert strtol("0x") == (0, "x", 0)
    assert strtol("") == (None, "", 0)
    assert strtol("12abc") == (12, "abc", 0)
    assert strtol("-0x10") == (-16, "", 0)


def test_nested_lists_and_trailing_commas_and_newlines():
    cfg = parse_cfg("a = [1,\n  [2, 3],\n]\nb = [ ]\nc = [\n'x',\n# note\n'y',\n]\n", "F")
    assert cfg.raw("a") == ["1", ["2", "3"]]
    assert cfg.raw("b") == []
    assert cfg.raw("c") == ["x", "y"]
    assert cfg.lineno("c") == 5
    assert cfg.get_string_list("a") == ["1"]      # stops at the nested list
    assert cfg.get_string("a") is None
    assert cfg.get_list("b") == []


def test_list_getter_on_atom_warns():
    cfg = parse_cfg("vif = 'bridge=xenbr0'\n", "g.cfg")
    assert cfg.get_list("vif") is None
    assert cfg.report == ["g.cfg:1: warning: parameter `vif' is a single value but should "
                          "be a list"]


def test_plus_equals_concatenates_strings_and_lists():
    cfg = parse_cfg('a = "x"\na += "y"\nb = [1]\nb += [2, 3]\nc += "new"\n', "F")
    assert cfg.raw("a") == "xy"
    assert cfg.raw("b") == ["1", "2", "3"]
    assert cfg.raw("c") == "new"
    cfg.get_long("c")
    assert cfg.report == ["F:5: warning: can't use += with numbers for parameter `c'"]


def test_plus_equals_type_mismatch_is_an_error():
    e = err("b = [1]\nb += \"s\"\n")
    assert e.message == "F:2: config parsing error near `\"s\"': can't add [list] to " \
                        "\"string\" or vice versa"


def test_last_duplicate_wins():
    cfg = parse_cfg("memory = 256\nmemory = 512\n", "F")
    assert cfg.get_long("memory") == 512
    assert cfg.lineno("memory") == 2
    assert cfg.keys() == ["memory"]


def test_semicolons_and_comments():
    cfg = parse_cfg("a=1;b=2;\nc = 3 # trailing\n# whole line\n;;\n", "F")
    assert (cfg.get_long("a"), cfg.get_long("b"), cfg.get_long("c")) == (1, 2, 3)


def test_escapes():
    cfg = parse_cfg(r'''a = "t\tn\n\"q\" \\ \'"
b = 'it"s'
c = "x\101y"
''', "F")
    assert cfg.raw("a") == "t\tn\n\"q\" \\ '"
    assert cfg.raw("b") == 'it"s'
    # libxlutil's octal escape swallows the digits and produces nothing
    assert cfg.raw("c") == "xy"


def test_hex_escape_never_works_in_libxlutil():
    e = err('name = "a\\x41"\n')
    assert e.message == ("F:1: config parsing error near `\"a\\x41\"': invalid digit after "
                         "backslash hexnumerical character escape in quoted string")


def test_bad_escape_message_keeps_libxlutil_typo():
    assert err('name = "a\\q"\n').message == \
        "F:1: config parsing error near `\"a\\q\"': invalid character after backlash in " \
        "quoted string"


# -- syntax errors -------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('name = "x"\nmemory = 512\nvcpus = 2 4\n',
     "F:3: config parsing error near `4': syntax error, unexpected NUMBER, expecting $end"),
    ("a = 1\nb = \n",   # a newline lookahead is reported one line early
     "F:1: config parsing error near <newline>: syntax error, unexpected NEWLINE, "
     "expecting STRING or NUMBER or '['"),
    ("a ",
     "F:1: config parsing error near `': syntax error, unexpected $end, expecting += or '='"),
    ("= 1\n",
     "F:1: config parsing error near `=': syntax error, unexpected '=', "
     "expecting $end or IDENT or NEWLINE or ';'"),
    ("a = [ 1 2 ]\n",
     "F:1: config parsing error near `2': syntax error, unexpected NUMBER, expecting ']'"),
    ("a = [\n",
     "F:1: config parsing error near `': syntax error, unexpected $end, expecting ']'"),
    ("Name = \"x\"\n", "F:1: config parsing error near `Name': lexical error"),
    ("memory = 512\r\n", "F:1: config parsing error near `\r': lexical error"),
    ("x = 1 # ok\n# no final newline", "F:2: config parsing error near `#': lexical error"),
    ('kernel = "/k"\ncpus = "0-3\n', "F:2: config parsing error near `\"0-3': lexical error"),
])
def test_syntax_error_messages(text, message):
    e = err(text)
    assert e.message == message
    assert e.exit_code == 1
    assert "\n" not in e.message


def test_only_first_error_in_message_all_in_lines():
    e = err("a = = 1\nb = = 2\nc = 3 4\n")
    assert e.lines == [
        "F:1: config parsing error near `=': syntax error, unexpected '=', "
        "expecting STRING or NUMBER or '['",
        "F:2: config parsing error near `=': syntax error, unexpected '=', "
        "expecting STRING or NUMBER or '['",
        "F:3: config parsing error near `4': syntax error, unexpected NUMBER, expecting $end",
    ]
    assert e.message == e.lines[0]


def test_python_config_is_refused_with_xl_warning():
    e = err("def f():\n    pass\n", "old.cfg")
    assert e.message == ("old.cfg:1: config parsing error near `f': syntax error, "
                         "unexpected IDENT, expecting += or '='")
    assert e.likely_python
    assert e.lines[-3:] == list(PYTHON_WARNING)


@pytest.mark.parametrize("text", [
    "import os\nname = os.environ['X']\n",
    "memory = 256 * 2\n",
    "vcpus = -1\n",
    "kernel = '/boot/vmlinuz-%s' % ver\n",
])
def test_xm_python_constructs_are_refused(text):
    e = err(text)
    assert "config parsing error" in e.message


def test_python_operator_marks_file_as_python():
    e = err("memory = 256 * 2\n")
    assert not e.likely_python  # `*' is not one of libxlutil's python markers
    e = err("x = (1)\n")
    assert e.likely_python


# -- overrides -----------------------------------------------------------------

def test_overrides_are_appended_and_win():
    text = apply_overrides('name = "a"\nmemory = 128\n', ["memory=512", 'vcpus=2; cpus="0-1"'])
    assert text == 'name = "a"\nmemory = 128\n\nmemory=512\nvcpus=2; cpus="0-1"\n\n'
    cfg = parse_cfg(text, "g.cfg")
    assert cfg.get_long("memory") == 512
    assert cfg.get_string("cpus") == "0-1"
    assert apply_overrides("x=1\n", []) == "x=1\n"


def test_override_error_names_the_file_with_line_past_its_end():
    text = apply_overrides('name = "a"\n', ["memory=512 1"])
    e = err(text, "g.cfg")
    assert e.message == ("g.cfg:3: config parsing error near `1': syntax error, "
                         "unexpected NUMBER, expecting $end")


# -- xl.conf -------------------------------------------------------------------

def test_global_config_defaults_and_values():
    g = parse_global_config("", "/etc/xen/xl.conf")
    assert (g.autoballoon, g.output_format, g.claim_mode, g.lockfile) == \
        ("auto", "json", 1, "/var/lock/xl")
    g = parse_global_config('autoballoon="off"\nvif.default.bridge="br1"\n'
                            'output_format="sxp"\nvm.cpumask="0-3"\nclaim_mode=0\n', "xl.conf")
    assert (g.autoballoon, g.vif_default_bridge, g.output_format, g.vm_cpumask,
            g.claim_mode) == ("off", "br1", "sxp", "0-3", 0)
    assert g.warnings == []


def test_global_config_warnings():
    g = parse_global_config('autoballoon="maybe"\nvifscript="x"\ndefaultbridge="b"\n'
                            'output_format="xml"\ndomid_policy="odd"\n', "xl.conf")
    assert g.warnings == [
        "invalid autoballoon option",
        "the global config option vifscript is deprecated, please switch to "
        "vif.default.script",
        "the global config option defaultbridge is deprecated, please switch to "
        "vif.default.bridge",
        'invalid default output format "xml"',
        "invalid domid_policy option",
    ]
    assert g.vif_default_script == "x" and g.vif_default_bridge == "b"


def test_global_config_bad_grant_frames_is_fatal():
    with pytest.raises(PyxlError) as info:
        parse_global_config("max_grant_frames=\"-1\"\n", "xl.conf")
    assert info.value.exit_code == 1
    assert "minimum bound" in info.value.message
