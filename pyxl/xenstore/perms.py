"""Node permissions: xenstored's owner-first list of (domid, n/r/w/b).

Entry 0 names the owner and gives everybody not listed later their access;
later entries grant the domain they name.  Entries naming a domain that is
gone are kept but marked ``ignore`` (shown, never matched), as xenstored
marks them XS_PERM_IGNORE.
"""

from .errors import XenStoreError

PERM_NONE = 0x00
PERM_READ = 0x01
PERM_WRITE = 0x02
PERM_OWNER = 0x08          # internal: may change perms

PRIV_DOMID = 0             # xenstored's priv_domid (dom0)
DOMID_ANY = 0x7FF5         # matches every domain in a perm entry

_BITS = {"n": PERM_NONE, "r": PERM_READ, "w": PERM_WRITE, "b": PERM_READ | PERM_WRITE}
_LETTER = {v: k for k, v in _BITS.items()}


def _strtol0(text: str) -> int:
    """C strtol(text, &end, 0) requiring the whole string: 0x.. hex, 0.. octal."""
    s = text
    neg = s[:1] == "-"
    if s[:1] in "+-" and s:
        s = s[1:]
    if not s:
        raise ValueError(text)
    if s[:2].lower() == "0x" and len(s) > 2:
        val = int(s[2:], 16)
    elif s.startswith("0") and len(s) > 1:
        val = int(s[1:], 8)
    elif s.isdigit():
        val = int(s)
    else:
        raise ValueError(text)
    if not all(c.isalnum() for c in s):
        raise ValueError(text)
    return (-val) % (1 << 32) if neg else val


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class Perm:
    """One permission entry, e.g. ``Perm(5, "r")`` printed as ``r5``."""

    def __init__(self, domid: int, letter: str, ignore: bool = False):
        # never assigned to afterwards: a Perm is a value (equal, hashed)
        self.domid = domid
        self.letter = letter
        self.ignore = ignore

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return (self.domid, self.letter, self.ignore) == \
                (other.domid, other.letter, other.ignore)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.domid, self.letter, self.ignore))

    @classmethod
    def parse(cls, text: str) -> "Perm":
        """Parse ``r5``-style text the way xenstored does; EINVAL if malformed."""
        if not text or text[0] not in _BITS:
            raise XenStoreError("EINVAL")
        try:
            domid = _strtol0(text[1:])
        except ValueError:
            raise XenStoreError("EINVAL") from None
        return cls(domid, text[0])

    @property
    def bits(self) -> int:
        return _BITS[self.letter]

    def __str__(self) -> str:
        return f"{self.letter}{self.domid}"


def format_perms(perms) -> str:
    """Comma-separated form used by xenstore-ls -p and xenstore-chmod."""
    return ",".join(str(p) for p in perms)


def parse_perms(items) -> list[Perm]:
    """Accept Perm objects or their text; EINVAL on anything malformed."""
    out = []
    for item in items:
        out.append(item if isinstance(item, Perm) else Perm.parse(item))
    return out


# Database encoding: like format_perms, with '!' after ignored entries.
_decode_cache: dict[str, tuple[Perm, ...]] = {}


def encode_perms(perms) -> str:
    return ",".join(f"{p.letter}{p.domid}{'!' if p.ignore else ''}" for p in perms)


def decode_perms(text: str) -> tuple[Perm, ...]:
    """The stored form back; a node whose perms do not decode is damage."""
    hit = _decode_cache.get(text)
    if hit is None:
        out = []
        for item in text.split(",") if isinstance(text, str) else [""]:
            ign = item.endswith("!")
            if ign:
                item = item[:-1]
            digits = item[1:]
            if item[:1] not in _BITS or not (digits.isascii() and digits.isdigit()):
                from pyxl.state.db import StateDamaged

                raise StateDamaged(f"bad XenStore permissions {text!r}")
            out.append(Perm(int(digits), item[0], ign))
        hit = tuple(out)
        if len(_decode_cache) < 4096:
            _decode_cache[text] = hit
    return hit


def perm_for(domid: int, perms) -> int:
    """Access bits ``domid`` has on a node with ``perms`` (perm_for_conn)."""
    if domid == PRIV_DOMID:
        return PERM_READ | PERM_WRITE | PERM_OWNER
    owner = perms[0]
    if owner.domid == domid or owner.domid == DOMID_ANY:
        return PERM_READ | PERM_WRITE | PERM_OWNER
    for p in perms[1:]:
        if not p.ignore and (p.domid == domid or p.domid == DOMID_ANY):
            return _BITS[p.letter]
    return _BITS[owner.letter]
