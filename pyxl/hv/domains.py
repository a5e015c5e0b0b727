"""Xen's domain list: every domain by domid, as the hypervisor keeps it.

`Domains` holds them all in memory. The questions about the whole host that
do not need every domain decoded (the memory in use, which domain has a
name, which have shut down) are its methods, so that a list that loads its
domains on demand (the host's, `DomainTable` in pyxl/sim/rows.py) answers
them from its store instead of loading a thousand domains to create one.
Iteration follows the order domains entered the list, as a dict's does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping

from pyxl.hv.model import Domain


class Domains(MutableMapping):
    """domid -> Domain, all in memory."""

    def __init__(self, domains: Mapping[int, Domain] | None = None):
        self._loaded: dict[int, Domain] = dict(domains or {})
        # Told of each domain a table brings into memory from its store, as
        # it arrives (the hypervisor derives what it shows of it at now).
        self.on_load: Callable[[Domain], None] | None = None

    def __getitem__(self, domid: int) -> Domain:
        return self._loaded[domid]

    def get(self, domid: int, default=None):
        try:
            return self[domid]
        except KeyError:
            return default

    def __setitem__(self, domid: int, d: Domain) -> None:
        self._loaded[domid] = d

    def __delitem__(self, domid: int) -> None:
        del self._loaded[domid]

    def __iter__(self) -> Iterator[int]:
        return iter(self._loaded)

    def __len__(self) -> int:
        return len(self._loaded)

    def __contains__(self, domid: object) -> bool:
        return domid in self._loaded

    def values(self):
        return self._loaded.values()

    def items(self):
        return self._loaded.items()

    def loaded_items(self):
        """The domains in memory: a table that loads on demand has changed
        no others (Domains: every domain)."""
        return self._loaded.items()

    def total_memkb(self) -> int:
        """The memory every domain holds (what physinfo's free memory lacks)."""
        return sum(d.tot_memkb for d in self.values())

    def domid_named(self, name: str) -> int | None:
        """The domain called `name`, if there is one."""
        for d in self.values():
            if d.name == name:
                return d.domid
        return None

    def name_of(self, domid: int) -> str | None:
        d = self.get(domid)
        return d.name if d is not None else None

    def shut_down(self) -> list[int]:
        """The domids of the domains that have shut down, in order."""
        return sorted(domid for domid, d in self.items() if d.shutdown)
