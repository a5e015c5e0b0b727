# fish completion for pyxm: commands from `pyxm help`, domains from `pyxm list`.
function __pyxm_needs_command
    set -l words (commandline -opc)
    set -e words[1]
    set -l skip 0
    for w in $words
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case --host
                set skip 1
            case '-*'
            case '*'
                return 1
        end
    end
    return 0
end

function __pyxm_commands
    pyxm help 2>/dev/null | awk '/^ [^ ]/ {print $1}'
end

function __pyxm_domains
    pyxm list 2>/dev/null | awk 'NR > 1 {print $1}'
end

complete -c pyxm -n __pyxm_needs_command -f -a '(__pyxm_commands)'
complete -c pyxm -n 'not __pyxm_needs_command' -f -a '(__pyxm_domains)'
complete -c pyxm -l host -r -d 'simulated host to act on'
