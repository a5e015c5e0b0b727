"""xendomains-style use: a script that, as Xen's xendomains does, saves every
domain into XENDOMAINS_SAVE at host shutdown (finding them in `xl list -l`)
and restores each file at start, run with `xl` being pyxl, gets the same
domains back."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

# The parts of xendomains that matter here, in its shape: parse `xl list -l`
# for name and domid (its LIST_GREP and parseln), `xl save ID $SAVE/NAME` on
# stop; on start, `xl restore` each file whose first 16 octets read "Xen saved
# domain", removing those that restored.
SCRIPT = r'''#!/bin/bash
CMD=xl
HEADCOMP="Xen saved domain"
LIST_GREP='(domain\|(domid\|(name\|^    {$\|"name":\|^        "domid":'

parseln()
{
    if [[ "$1" = "{" ]]; then
        name=;id=
    elif [[ "$1" =~ '"name":' ]]; then
        name=$(echo $1 | sed -e 's/^.*"name": "\(.*\)",$/\1/')
    elif [[ "$1" =~ '"domid":' ]]; then
        id=$(echo $1 | sed -e 's/^.*"domid": \(.*\),$/\1/')
    fi
    [ -n "$name" -a -n "$id" ] && return 0 || return 1
}

stop()
{
    name=;id=
    while read LN; do
        parseln "$LN" || continue
        if test $id = 0; then continue; fi
        mkdir -p "$XENDOMAINS_SAVE"
        $CMD save $id $XENDOMAINS_SAVE/$name || echo "failed to save $name" >&2
    done < <($CMD list -l | grep "$LIST_GREP")
}

start()
{
    for dom in $XENDOMAINS_SAVE/*; do
        if [ -f $dom ]; then
            HEADER=`head -c 16 $dom | head -n 1 2> /dev/null`
            if [ "$HEADER" = "$HEADCOMP" ]; then
                $CMD restore $dom && rm $dom
            fi
        fi
    done
}

case "$1" in
    start) start ;;
    stop) stop ;;
esac
'''


def _domains(pyxl) -> dict[str, dict]:
    """name -> (uuid, memory, vcpus) of every guest."""
    out = json.loads(pyxl("list", "-l").out)
    return {e["config"]["c_info"]["name"]: (e["config"]["c_info"]["uuid"],
                                            e["config"]["b_info"]["max_memkb"],
                                            e["config"]["b_info"]["max_vcpus"])
            for e in out if e["domid"] != 0}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_xendomains_saves_and_restores_every_domain(pyxl, guest_cfg, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    xl = bindir / "xl"
    xl.write_text(f'#!/bin/sh\nexec {sys.executable} -m pyxl "$@"\n')
    xl.chmod(xl.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "xendomains"
    script.write_text(SCRIPT)
    save = tmp_path / "save"
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               XENDOMAINS_SAVE=str(save))
    pyxl("create", "-q", guest_cfg("web", memory=256))
    pyxl("create", "-q", guest_cfg("db", memory=512, vcpus=4))
    pyxl("clock", "advance", "3s")
    before = _domains(pyxl)
    assert set(before) == {"web", "db"}

    r = subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "failed" not in r.stderr, r.stderr
    assert sorted(os.listdir(save)) == ["db", "web"]
    assert _domains(pyxl) == {}  # saved, then destroyed

    r = subprocess.run(["bash", str(script), "start"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.listdir(save) == []
    assert _domains(pyxl) == before  # the same domains: names, uuids, memory, vCPUs
    pyxl("clock", "advance", "1s")
    states = [line.split()[4] for line in pyxl("list").out.splitlines()[2:]]
    assert states == ["-b----", "-b----"]
