"""`python -m pyxl.cli.xm`: the pyxm console script."""

from pyxl.launch import pyxm

pyxm()
