# bash completion for pyxm (source this file, or install it in bash-completion's dir).
# Commands come from `pyxm help` (xm's layout: " name  text" lines between its preamble
# and footer), domain names from `pyxm list` (halted managed domains included), so
# completion follows the host you are pointing at.

_pyxm_commands() {
    "$1" help 2>/dev/null | awk '/^ [^ ]/ {print $1}'
}

_pyxm_domains() {
    "$1" list 2>/dev/null | awk 'NR > 1 {print $1}'
}

_pyxm() {
    local cur prog i cmd=""
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    prog="${COMP_WORDS[0]}"
    # skip pyxl's --host NAME before the subcommand
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            --host) (( i++ )) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=( $(compgen -W "--host -h --help" -- "$cur") )
        else
            COMPREPLY=( $(compgen -W "$(_pyxm_commands "$prog")" -- "$cur") )
        fi
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        case "$cmd" in
            create) COMPREPLY=( $(compgen -W "-c -p -n -q -f --console_autoconnect --paused --dryrun --quiet --defconfig=" -- "$cur") ) ;;
            new) COMPREPLY=( $(compgen -W "-n -q -f --dryrun --quiet --defconfig=" -- "$cur") ) ;;
            start) COMPREPLY=( $(compgen -W "-p -c --paused --console_autoconnect" -- "$cur") ) ;;
            resume|restore) COMPREPLY=( $(compgen -W "-p --paused" -- "$cur") ) ;;
            list) COMPREPLY=( $(compgen -W "-l --long --state=" -- "$cur") ) ;;
            shutdown) COMPREPLY=( $(compgen -W "-w -a -R -H --wait --all --reboot --halt" -- "$cur") ) ;;
            sched-credit) COMPREPLY=( $(compgen -W "-d -w -c --domain= --weight= --cap=" -- "$cur") ) ;;
            sched-sedf) COMPREPLY=( $(compgen -W "-p -s -l -e -w --period= --slice= --latency= --extra= --weight=" -- "$cur") ) ;;
            save) COMPREPLY=( $(compgen -W "-c --checkpoint" -- "$cur") ) ;;
            migrate) COMPREPLY=( $(compgen -W "-l --live" -- "$cur") ) ;;
            info) COMPREPLY=( $(compgen -W "-c -n --config --numa" -- "$cur") ) ;;
            uptime) COMPREPLY=( $(compgen -W "-s" -- "$cur") ) ;;
        esac
        return 0
    fi
    case "$cmd" in
        create|new|restore)
            COMPREPLY=( $(compgen -f -- "$cur") ) ;;
        help)
            COMPREPLY=( $(compgen -W "$(_pyxm_commands "$prog")" -- "$cur") ) ;;
        info|top)
            ;;
        *)
            COMPREPLY=( $(compgen -W "$(_pyxm_domains "$prog")" -- "$cur") ) ;;
    esac
    return 0
}

complete -F _pyxm -o default pyxm
