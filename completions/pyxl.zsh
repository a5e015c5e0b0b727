#compdef pyxl
# zsh completion for pyxl: reuses the bash completion through bashcompinit.
autoload -U +X bashcompinit && bashcompinit
source "${0:A:h}/pyxl.bash"
