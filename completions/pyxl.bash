# bash completion for pyxl (source this file, or install it in bash-completion's dir).
# Commands come from `pyxl help` (xl's layout: four preamble lines, then " name  text"),
# domain names from `pyxl list`, so completion follows the host you are pointing at.

_pyxl_commands() {
    "$1" help 2>/dev/null | sed '1,4d' | awk '/^ [^ ]/ {print $1}'
}

_pyxl_domains() {
    "$1" list 2>/dev/null | awk 'NR > 1 {print $1}'
}

_pyxl() {
    local cur prog i cmd=""
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    prog="${COMP_WORDS[0]}"
    # skip global options (-v -N -f -t -T, --host NAME, --as-domid N) to find the command
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            --host|--as-domid) (( i++ )) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=( $(compgen -W "-v -N -f -t -T --host --as-domid" -- "$cur") )
        else
            COMPREPLY=( $(compgen -W "$(_pyxl_commands "$prog")" -- "$cur") )
        fi
        return 0
    fi
    case "$cmd" in
        create|cpupool-create|restore)
            COMPREPLY=( $(compgen -f -- "$cur") ) ;;
        host)
            COMPREPLY=( $(compgen -W "boot list reset destroy" -- "$cur") ) ;;
        clock)
            COMPREPLY=( $(compgen -W "show advance" -- "$cur") ) ;;
        info|help|dmesg|vm-list|top|cpupool-list|cpupool-numa-split|xenstore-*)
            ;;
        *)
            COMPREPLY=( $(compgen -W "$(_pyxl_domains "$prog")" -- "$cur") ) ;;
    esac
    return 0
}

complete -F _pyxl -o default pyxl
