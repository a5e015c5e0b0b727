#compdef pyxm
# zsh completion for pyxm: reuses the bash completion through bashcompinit.
autoload -U +X bashcompinit && bashcompinit
source "${0:A:h}/pyxm.bash"
