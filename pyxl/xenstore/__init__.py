"""What xenstored does: the tree, permissions, quotas, transactions, watches.

The package imports nothing itself: a command that needs only the errors or
the permission values (`pyxl.xenstore.errors`, `.perms`) does not pay for the
store and its watches. Import each name from its module: `store.XenStore`,
`errors.XenStoreError`, `perms.Perm`, `schema.apply_schema`, `watches.WatchEvent`.
"""
