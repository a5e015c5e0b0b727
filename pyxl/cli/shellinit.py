"""pyxl shell-init: shell functions so a class types Xen's own command names.

`eval "$(pyxl shell-init bash)"` defines `xl`, `xm`, `xentop` and the
xenstore-* clients as shell functions that run pyxl (and pyxm). Functions,
not files on PATH: nothing changes until the user evaluates the output, it
lasts for that shell only, and a name that is already a command on PATH (a
real Xen install) is left alone.
"""

from __future__ import annotations

import os

import click

from pyxl.cli.base import out, xl_command

# The name a user types -> the pyxl command line it runs.
COMMANDS = (
    ("xl", "pyxl"),
    ("xm", "pyxm"),
    ("xentop", "pyxl top"),
    ("xenstore-read", "pyxl xenstore-read"),
    ("xenstore-write", "pyxl xenstore-write"),
    ("xenstore-ls", "pyxl xenstore-ls"),
    ("xenstore-list", "pyxl xenstore-list"),
    ("xenstore-rm", "pyxl xenstore-rm"),
    ("xenstore-exists", "pyxl xenstore-exists"),
    ("xenstore-chmod", "pyxl xenstore-chmod"),
    ("xenstore-watch", "pyxl xenstore-watch"),
)
SHELLS = ("bash", "zsh", "fish")


def _posix(shell: str) -> str:
    """bash and zsh: one guarded function per name."""
    names = " ".join(name for name, _ in COMMANDS)
    # Looks on PATH only, so evaluating the output again redefines our own functions.
    on_path = "type -P" if shell == "bash" else "whence -p"
    lines = [
        f"# pyxl shell integration for {shell}: Xen's command names as shell functions.",
        f'# Enable: eval "$(pyxl shell-init {shell})"   (this shell only)',
        f"# Undo:   unset -f {names}",
        "# A name that is already a command on PATH (a real Xen install) is left alone.",
    ]
    for name, target in COMMANDS:
        lines.append(f'{on_path} {name} >/dev/null 2>&1 || {name}() {{ {target} "$@"; }}')
    return "\n".join(lines) + "\n"


def _fish() -> str:
    names = " ".join(name for name, _ in COMMANDS)
    lines = [
        "# pyxl shell integration for fish: Xen's command names as shell functions.",
        "# Enable: pyxl shell-init fish | source   (this shell only)",
        f"# Undo:   functions -e {names}",
        "# A name that is already a command on PATH (a real Xen install) is left alone.",
    ]
    for name, target in COMMANDS:
        lines.append(f"command -q {name}; or function {name}; {target} $argv; end")
    return "\n".join(lines) + "\n"


def _default_shell() -> str:
    shell = os.path.basename(os.environ.get("SHELL", ""))
    return shell if shell in SHELLS else "bash"


@xl_command("shell-init")
@click.argument("shell", required=False)
def cmd_shell_init(shell):
    shell = shell or _default_shell()
    if shell not in SHELLS:
        raise click.ClickException(f"unknown shell '{shell}' (bash, zsh or fish)")
    out(_fish() if shell == "fish" else _posix(shell))
    return 0
