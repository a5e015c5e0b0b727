"""pyxm: xm's face (Xen 4.1-4.4's Python toolstack) over pyxl's toolstack.

A second front end beside pyxl's xl: xm's command names, aliases, help,
`Error: ...` messages and output formats, on the same hosts, so a domain
one creates the other sees.
"""
