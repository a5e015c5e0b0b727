# fish completion for pyxl: commands from `pyxl help`, domains from `pyxl list`.
function __pyxl_needs_command
    set -l words (commandline -opc)
    set -e words[1]
    set -l skip 0
    for w in $words
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case --host --as-domid
                set skip 1
            case '-*'
            case '*'
                return 1
        end
    end
    return 0
end

function __pyxl_commands
    pyxl help 2>/dev/null | sed '1,4d' | awk '/^ [^ ]/ {print $1}'
end

function __pyxl_domains
    pyxl list 2>/dev/null | awk 'NR > 1 {print $1}'
end

complete -c pyxl -n __pyxl_needs_command -f -a '(__pyxl_commands)'
complete -c pyxl -n 'not __pyxl_needs_command' -f -a '(__pyxl_domains)'
complete -c pyxl -l host -r -d 'simulated host to act on'
complete -c pyxl -l as-domid -r -d 'act as if inside domain N'
