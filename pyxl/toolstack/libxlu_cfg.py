"""libxlutil's configuration language: the xl.cfg / xl.conf / cpupool file syntax.

Reimplements the behaviour of libxlutil's flex lexer and bison grammar
(tools/libs/util/libxlu_cfg_l.l, libxlu_cfg_y.y, libxlu_cfg.c), down to the
messages it prints, so that a broken file fails with the bytes xl prints:

    FILE:LINE: config parsing error near `TEXT': REASON

Quirks copied on purpose (scripts and students see them on real xl):
- identifiers are lowercase only (``[a-z][._0-9a-z]*``); ``Name = 1`` is a
  lexical error;
- a syntax error whose lookahead is a newline is reported one line early;
- ``\\x`` escapes never work and ``\\NNN`` escapes are swallowed (libxlutil's
  decoder is buggy); both are reproduced;
- a file ending in a comment without a final newline is a lexical error;
- ``+ - . ( ) :`` outside strings mark the file as "likely Python", which
  adds xl's three "Arbitrary Python is no longer supported" warnings.
"""

from __future__ import annotations

from errno import EINVAL, ESRCH

from pyxl.cnum import LONG_MAX, LONG_MIN, strtol
from pyxl.errors import PyxlError

CfgValue = str | list  # a str atom, or a list of CfgValue

PYTHON_WARNING = (
    "warning: Config file looks like it contains Python code.",
    "warning:  Arbitrary Python is no longer supported.",
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig",
)

OP_ASSIGN = "="
OP_ADD = "+="


class CfgSyntaxError(PyxlError):
    """A config file libxlutil refuses.

    ``message`` is the first line libxlutil prints (one line, as pyxl shows
    it); ``lines`` is everything real xl would print on stderr, in order,
    without the caller's own "Failed to parse config" line.
    """

    def __init__(self, lines: list[str], likely_python: bool):
        super().__init__(lines[0], 1)
        self.lines = lines
        self.likely_python = likely_python


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class CfgSetting:
    def __init__(self, name: str, value: CfgValue, op: str, lineno: int) -> None:
        self.name = name
        self.value = value
        self.op = op
        self.lineno = lineno


class CfgFile:
    """The settings of one parsed file, with libxlutil's lookup semantics.

    ``report`` collects the warnings the getters would print on stderr
    (xl passes stderr as libxlutil's report stream); callers slice it.
    """

    def __init__(
        self,
        source: str,
        settings: dict[str, CfgSetting] | None = None,
        order: list[str] | None = None,
        report: list[str] | None = None,
    ) -> None:
        self.source = source
        self.settings = {} if settings is None else settings
        self.order = [] if order is None else order
        self.report = [] if report is None else report

    # -- raw access ---------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.settings

    def keys(self) -> list[str]:
        return list(self.order)

    def setting(self, name: str) -> CfgSetting | None:
        return self.settings.get(name)

    def lineno(self, name: str) -> int | None:
        s = self.settings.get(name)
        return s.lineno if s else None

    def raw(self, name: str) -> CfgValue | None:
        s = self.settings.get(name)
        return s.value if s else None

    def _warn(self, text: str) -> None:
        self.report.append(text)

    # -- xlu_cfg_get_* ------------------------------------------------------
    def _find_atom(self, name: str, dont_warn: bool) -> tuple[int, CfgSetting | None]:
        s = self.settings.get(name)
        if s is None:
            return ESRCH, None
        if not isinstance(s.value, str):
            if not dont_warn:
                self._warn(f"{self.source}:{s.lineno}: warning: parameter `{name}' is"
                           " a list but should be a single value")
            return EINVAL, None
        return 0, s

    def get_string_rc(self, name: str, dont_warn: bool = False) -> tuple[int, str | None]:
        rc, s = self._find_atom(name, dont_warn)
        return rc, (s.value if s else None)

    def get_string(self, name: str, dont_warn: bool = False) -> str | None:
        return self.get_string_rc(name, dont_warn)[1]

    def get_bounded_long_rc(self, name: str, lo: int, hi: int,
                            dont_warn: bool = False) -> tuple[int, int | None]:
        rc, s = self._find_atom(name, dont_warn)
        if rc:
            return rc, None
        src = self.source
        if s.op == OP_ADD:
            if not dont_warn:
                self._warn(f"{src}:{s.lineno}: warning: can't use += with numbers"
                           f" for parameter `{name}'")
            return EINVAL, None
        val, rest, err = strtol(s.value)
        if err:
            if not dont_warn:
                self._warn(f"{src}:{s.lineno}: warning: parameter `{name}' could not be"
                           " parsed as a number: Numerical result out of range")
            return err, None
        if rest or val is None:
            if not dont_warn:
                self._warn(f"{src}:{s.lineno}: warning: parameter `{name}' is not a valid number")
            return EINVAL, None
        if val < lo:
            if not dont_warn:
                self._warn(f"{src}:{s.lineno}: warning: value `{val}' is smaller than"
                           f" minimum bound '{lo}'")
            return EINVAL, None
        if val > hi:
            if not dont_warn:
                self._warn(f"{src}:{s.lineno}: warning: value `{val}' is greater than"
                           f" maximum bound '{hi}'")
            return EINVAL, None
        return 0, val

    def get_long_rc(self, name: str, dont_warn: bool = False) -> tuple[int, int | None]:
        return self.get_bounded_long_rc(name, LONG_MIN, LONG_MAX, dont_warn)

    def get_long(self, name: str, dont_warn: bool = False) -> int | None:
        return self.get_long_rc(name, dont_warn)[1]

    def get_defbool(self, name: str, dont_warn: bool = False) -> bool | None:
        """xlu_cfg_get_defbool: a number, nonzero meaning true; None if unset/bad."""
        rc, val = self.get_long_rc(name, dont_warn)
        return None if rc else bool(val)

    def get_list_rc(self, name: str, dont_warn: bool = False) -> tuple[int, list | None]:
        s = self.settings.get(name)
        if s is None:
            return ESRCH, None
        if not isinstance(s.value, list):
            if not dont_warn:
                self._warn(f"{self.source}:{s.lineno}: warning: parameter `{name}' is a"
                           " single value but should be a list")
            return EINVAL, None
        return 0, s.value

    def get_list(self, name: str, dont_warn: bool = False) -> list | None:
        return self.get_list_rc(name, dont_warn)[1]

    def get_string_list(self, name: str, dont_warn: bool = False) -> list[str] | None:
        """Items of a list as strings, stopping at the first nested list
        (what xl's ``while ((buf = xlu_cfg_get_listitem(...)))`` loops see)."""
        items = self.get_list(name, dont_warn)
        if items is None:
            return None
        out = []
        for item in items:
            if not isinstance(item, str):
                break
            out.append(item)
        return out


# ---------------------------------------------------------------------------
# Lexer

IDENT, STRING, NUMBER, NEWLINE, ADD, EQ, SEMI, LBRACK, RBRACK, COMMA, END = (
    "IDENT", "STRING", "NUMBER", "NEWLINE", "+=", "'='", "';'", "'['", "']'", "','", "$end")

_IDENT_FIRST = set("abcdefghijklmnopqrstuvwxyz")
_IDENT_REST = _IDENT_FIRST | set("._0123456789")
_DIGITS = set("0123456789")
_NUMBER_REST = _DIGITS | set("abcdefx")
_PYTHONISH = set("+-.():")
_PUNCT = {",": COMMA, "[": LBRACK, "]": RBRACK, "=": EQ, ";": SEMI}


class _Tok:
    def __init__(
        self,
        kind: str,
        text: str,  # yytext, as the error messages show it
        line: int,  # yylloc.first_line
        value: str | None = None,
    ) -> None:
        self.kind = kind
        self.text = text
        self.line = line
        self.value = value


class _Ctx:
    """Parse-wide state shared by lexer and parser (libxlu's CfgParseContext)."""

    def __init__(self, source: str):
        self.source = source
        self.err = 0
        self.lexerrlineno = -1
        self.likely_python = False
        self.lines: list[str] = []

    def error(self, lineno: int, text: str, msg: str) -> None:
        """yyerror: print unless a lexical error already hit this line."""
        if lineno <= self.lexerrlineno:
            return
        newline = ""
        if text.endswith("\n"):
            text = text[:-1]
            lineno -= 1
            if not text:
                newline = "<newline>"
        text = text.rstrip(" \t")
        near = f"`{printable(text)}'" if text else ""
        if text == "\0":
            near = "`'"
        self.lines.append(f"{self.source}:{lineno}: config parsing error near {near}{newline}: {msg}")
        if not self.err:
            self.err = EINVAL

    def lexical_error(self, yylineno: int, text: str, msg: str) -> None:
        self.error(yylineno, text, msg)
        self.lexerrlineno = yylineno


def printable(text: str) -> str:
    """Text for an error line: a NUL, or a byte that is not UTF-8 (read as a
    surrogate escape), shown as ``\\xNN`` so that the line prints anywhere."""
    if text.isascii() and "\0" not in text:
        return text
    return "".join(f"\\x{ord(c) & 0xFF:02x}" if c == "\0" or "\udc80" <= c <= "\udcff"
                   else c for c in text)


def _string_fault(body: str) -> str | None:
    """Why pyxl refuses a quoted string's raw text, or None.

    A NUL ends a C string, and libxlutil asserts on it; pyxl keeps every
    string as UTF-8 text (XenStore values, its database, the JSON it prints).
    """
    if "\0" in body:
        return "NUL in quoted string"
    if not body.isascii() and any("\udc80" <= c <= "\udcff" for c in body):
        return "quoted string is not valid UTF-8"
    return None


class _Lexer:
    def __init__(self, data: str, ctx: _Ctx):
        self.data = data
        self.pos = 0
        self.lineno = 1
        self.ctx = ctx
        self.last_text = "\0"
        self.yylloc = 1       # line of the last token returned ($end keeps it)
        self.eof_text = "\0"  # what yytext holds at the end of input

    def _lexerr_run(self, start: int) -> _Tok | None:
        """After a bad character at ``start``: eat the rest of the word (or
        one blank, or the newline) and report it as a lexical error."""
        data, n = self.data, len(self.data)
        i = start + 1
        if i >= n and ord(data[start]) < 0x80:
            # flex reaches the end of input before any error rule can
            # match: the stray character is silently dropped.
            self.pos = n
            self.eof_text = data[start:]
            return None
        if i >= n or ord(data[start]) >= 0x80:
            # flex sees a multi-byte character's trailing bytes as the
            # start of the word: eat the word
            while i < n and data[i] not in " \t\n":
                i += 1
        elif data[i] in " \t":
            i += 1
        elif i < n and data[i] == "\n":
            text = data[start:i + 1]
            self.pos = i + 1
            self.lineno += 1
            self.ctx.lexical_error(self.lineno, text, "lexical error")
            self.last_text = text
            self.yylloc = self.lineno
            return _Tok(NEWLINE, text, self.lineno)
        else:
            while i < n and data[i] not in " \t\n":
                i += 1
        text = data[start:i]
        self.pos = i
        self.lineno += text.count("\n")
        self.ctx.lexical_error(self.lineno, text, "lexical error")
        return None

    def next(self) -> _Tok:
        data, n = self.data, len(self.data)
        while True:
            i = self.pos
            if i >= n:
                self.last_text = "\0"
                return _Tok(END, self.eof_text, self.yylloc)
            c = data[i]
            if c in " \t":
                self.pos = i + 1
                continue
            if c in _IDENT_FIRST:
                j = i + 1
                while j < n and data[j] in _IDENT_REST:
                    j += 1
                return self._tok(IDENT, i, j, data[i:j])
            if c in _DIGITS:
                j = i + 1
                while j < n and data[j] in _NUMBER_REST:
                    j += 1
                return self._tok(NUMBER, i, j, data[i:j])
            if c == "+" and data[i + 1:i + 2] == "=":
                return self._tok(ADD, i, i + 2)
            if c in _PUNCT:
                return self._tok(_PUNCT[c], i, i + 1)
            if c == "\n":
                self.pos = i + 1
                self.lineno += 1
                self.last_text = "\n"
                self.yylloc = self.lineno - 1
                return _Tok(NEWLINE, "\n", self.yylloc)
            if c == "#":
                j = data.find("\n", i)
                if j >= 0:
                    text = data[i:j + 1]
                    self.pos = j + 1
                    self.lineno += 1
                    self.last_text = text
                    self.yylloc = self.lineno - 1
                    return _Tok(NEWLINE, text, self.yylloc)
            if c in "'\"":
                j = i + 1
                while j < n and data[j] != c and data[j] != "\n":
                    j += 2 if (data[j] == "\\" and j + 1 < n and data[j + 1] != "\n") else 1
                if j < n and data[j] == c:
                    text = data[i:j + 1]
                    tok = self._tok(STRING, i, j + 1)
                    tok.value = self._dequote(text)
                    return tok
            # Anything else starts a lexical error.
            if c in _PYTHONISH:
                self.ctx.likely_python = True
            tok = self._lexerr_run(i)
            if tok is not None:
                return tok

    def _tok(self, kind: str, i: int, j: int, value: str | None = None) -> _Tok:
        text = self.data[i:j]
        self.pos = j
        self.last_text = text
        self.yylloc = self.lineno
        return _Tok(kind, text, self.lineno, value)

    def _dequote(self, text: str) -> str:
        """libxlutil's unquoting, bugs included (see module docstring)."""
        if self.ctx.err:
            return ""       # libxlutil stops decoding once anything failed
        out = []
        body = text[1:-1]
        fault = _string_fault(body)
        if fault:
            self.ctx.lexical_error(self.lineno, text, fault)
            return ""
        p, n = 0, len(body)
        while p < n:
            c = body[p]
            p += 1
            if c != "\\":
                out.append(c)
                continue
            nc = body[p]
            p += 1
            simple = {'"': '"', "'": "'", "\\": "\\", "a": "\a", "b": "\b", "f": "\f",
                      "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
            if nc in simple:
                out.append(simple[nc])
            elif nc == "x":
                # libxlutil skips one more character, then needs more than two
                # hex digits out of at most two: this never succeeds.
                self.ctx.lexical_error(self.lineno, text, "invalid digit after backslash "
                                       "hexnumerical character escape in quoted string")
                self.ctx.err = EINVAL
                break
            elif "0" <= nc <= "7":
                # Reads up to three *decimal* digits after the first one and
                # needs at least two; the character itself is dropped.
                m = 0
                while m < 3 and p + m < n and body[p + m] in _DIGITS:
                    m += 1
                if m <= 1:
                    self.ctx.lexical_error(self.lineno, text, "invalid digit after backslash "
                                           "octalnumerical character escape in quoted string")
                    self.ctx.err = EINVAL
                    break
                p += m
            else:
                self.ctx.lexical_error(self.lineno, text,
                                       "invalid character after backlash in quoted string")
                self.ctx.err = EINVAL
                break
        return "".join(out)


# ---------------------------------------------------------------------------
# Parser: an explicit-state emulation of the bison automaton, including its
# error recovery (``stmt: error NEWLINE``), so that every message real xl
# prints is printed here too, in the same order.

# libxlutil's grammar lets lists nest; its bison parser gives up with
# "memory exhausted" when its 10000-state stack is full, about 5000 levels
# down. pyxl stops sooner, where its own (recursive) handling of the value
# would: no xl key nests deeper than two.
MAX_LIST_DEPTH = 100

_EXPECT_STMT = "expecting $end or IDENT or NEWLINE or ';'"
_EXPECT_OP = "expecting += or '='"
_EXPECT_VALUE = "expecting STRING or NUMBER or '['"
_EXPECT_END = "expecting $end"
_EXPECT_RBRACK = "expecting ']'"


def _store(cfg: CfgFile, ctx: _Ctx, lexer: _Lexer, name: str, op: str,
           value: CfgValue, lineno: int) -> None:
    if ctx.err:
        return
    if op == OP_ADD and name in cfg.settings:
        prev = cfg.settings[name].value
        if isinstance(prev, str) != isinstance(value, str):
            ctx.lexical_error(lexer.lineno, lexer.last_text,
                              "can't add [list] to \"string\" or vice versa")
            return
        value = prev + value
        if isinstance(prev, list):
            cfg.settings[name].value = []
    if name in cfg.settings:
        cfg.order.remove(name)
    cfg.settings[name] = CfgSetting(name, value, op, lineno)
    cfg.order.append(name)


def _parse(data: str, source: str) -> tuple[CfgFile, _Ctx]:
    cfg = CfgFile(source)
    ctx = _Ctx(source)
    lex = _Lexer(data, ctx)
    state = "stmt"
    errstatus = 0          # bison's yyerrstatus: 3 right after an error
    name = op = None
    stack: list[list] = []  # lists being built, innermost last
    value_line = 0
    tok = lex.next()

    while True:
        kind = tok.kind
        expecting = None
        if state == "stmt":
            if kind == IDENT:
                name, state = tok.text, "ident"
            elif kind == END:
                return cfg, ctx
            elif kind not in (NEWLINE, SEMI):
                expecting = _EXPECT_STMT
        elif state == "ident":
            if kind in (EQ, ADD):
                op, state = (OP_ADD if kind == ADD else OP_ASSIGN), "op"
            else:
                expecting = _EXPECT_OP
        elif state == "op":
            if kind in (STRING, NUMBER):
                _store(cfg, ctx, lex, name, op, tok.value if kind == STRING else tok.text,
                       tok.line)
                state = "assigned"
            elif kind == LBRACK:
                value_line = tok.line
                stack = [[]]
                state = "list_open"
            else:
                expecting = _EXPECT_VALUE
        elif state == "assigned":
            if kind in (NEWLINE, SEMI):
                state = "stmt"
            elif kind == END:
                return cfg, ctx
            else:
                # bison has already reduced to `file' here; no state left on
                # the stack can shift `error', so the parse is abandoned.
                if not errstatus:
                    ctx.error(tok.line, tok.text,
                              f"syntax error, unexpected {kind}, {_EXPECT_END}")
                return cfg, ctx
        elif state == "error":
            if kind == NEWLINE:
                state = "stmt"
            elif kind == END:
                return cfg, ctx
            else:
                tok = lex.next()        # discarded while recovering
                continue
        else:   # inside a list: list_open, list_val (after a value), list_comma
            if kind == NEWLINE:
                pass
            elif kind in (STRING, NUMBER) and state != "list_val":
                stack[-1].append(tok.value if kind == STRING else tok.text)
                state = "list_val"
            elif kind == LBRACK and state != "list_val":
                if len(stack) >= MAX_LIST_DEPTH:
                    # bison's "memory exhausted" ends the parse, no recovery
                    ctx.error(tok.line, tok.text, "memory exhausted (pyxl nests lists "
                              f"at most {MAX_LIST_DEPTH} deep)")
                    return cfg, ctx
                stack.append([])
                state = "list_open"
            elif kind == COMMA and state == "list_val":
                state = "list_comma"
            elif kind == RBRACK:
                done = stack.pop()
                if stack:
                    stack[-1].append(done)
                    state = "list_val"
                else:
                    _store(cfg, ctx, lex, name, op, done, value_line)
                    state = "assigned"
            else:
                expecting = _EXPECT_RBRACK

        if expecting is not None:
            if not errstatus:
                ctx.error(tok.line, tok.text, f"syntax error, unexpected {kind}, {expecting}")
            if errstatus == 3:
                if kind == END:
                    return cfg, ctx
                tok = lex.next()
            errstatus = 3
            state = "error"
            continue
        if errstatus:
            errstatus -= 1
        tok = lex.next()


def parse_cfg(text: str, source: str) -> CfgFile:
    """Parse a whole config file as xlu_cfg_readdata does.

    Raises CfgSyntaxError (a PyxlError, exit 1) with libxlutil's first
    message when the file is not valid.
    """
    cfg, ctx = _parse(text, source)
    if ctx.err:
        lines = list(ctx.lines)
        if ctx.likely_python:
            lines.extend(PYTHON_WARNING)
        if not lines:
            lines = [f"{source}: config parsing error"]
        raise CfgSyntaxError(lines, ctx.likely_python)
    return cfg


def apply_overrides(text: str, extra: list[str]) -> str:
    """The text xl create parses: the file, then each ``key=value`` argument.

    xl joins the arguments one per line and appends them as ``"\\n%s\\n"``;
    an argument may hold several settings separated by ``;``. Errors in them
    are reported with the file's name and line numbers past its end, as xl
    does.
    """
    if not extra:
        return text
    joined = "".join(arg + "\n" for arg in extra)
    return f"{text}\n{joined}\n"
