"""`python -m pyxl` is the same as the `pyxl` command."""

from pyxl.cli.main import main

main()
