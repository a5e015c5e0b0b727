"""`python -m pyxl.cli.xm`: the pyxm console script."""

from pyxl.cli.xm.main import main

main()
