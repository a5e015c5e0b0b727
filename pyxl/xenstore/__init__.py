"""What xenstored does: the tree, permissions, quotas, transactions, watches."""

from .errors import XenStoreError
from .perms import DOMID_ANY, Perm, format_perms
from .schema import SCHEMA, apply_schema
from .store import Transaction, WalkEntry, XenStore
from .watches import WatchEvent

__all__ = ["XenStore", "XenStoreError", "Perm", "format_perms", "DOMID_ANY", "SCHEMA",
           "apply_schema", "Transaction", "WalkEntry", "WatchEvent"]
