/**
 * `kappa-node completion bash|zsh|fish`: a completion script generated from
 * the command tree itself (commands, their options, files where an option
 * takes a path, paired peers where a command takes a peer).
 */
import type { Command } from 'commander'
import { UsageError } from './usage.js'

/** options that take a path */
const PATH_OPTIONS = ['--home', '--input', '--output', '--dir', '--config', '--proc']
/** commands whose argument is a paired peer (and `run --peer`) */
const PEER_COMMANDS = ['accept', 'unpair', 'alias']

interface CommandInfo { name: string, options: string[] }

function commandsOf (program: Command): CommandInfo[] {
  return program.commands
    .filter(c => !c.name().startsWith('__'))
    .map(c => ({ name: c.name(), options: [...c.options.filter(o => !o.hidden).map(o => o.long ?? o.short ?? '').filter(o => o !== ''), '--help'] }))
}

export function completionScript (program: Command, shell: string): string {
  const commands = commandsOf(program)
  switch (shell) {
    case 'bash': return bash(commands)
    case 'zsh': return `#compdef kappa-node\n# kappa-node completion for zsh (the bash one, through bashcompinit)\nautoload -U +X bashcompinit && bashcompinit\n${bash(commands)}`
    case 'fish': return fish(commands)
    default: throw new UsageError(`unknown shell '${shell}': bash, zsh or fish`)
  }
}

function bash (commands: CommandInfo[]): string {
  const cases = commands.map(c => `    ${c.name}) opts="${c.options.join(' ')}" ;;`).join('\n')
  return `# kappa-node completion for bash: eval "$(kappa-node completion bash)"
_kappa_node () {
  local cur prev cmd opts i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map(c => c.name).join(' ')} help --version --help" -- "$cur") )
    return
  fi
  cmd="\${COMP_WORDS[1]}"
  # after \`run … --\` or \`wrap\`: commands, then files
  for (( i = 2; i < COMP_CWORD; i++ )); do
    if [ "\${COMP_WORDS[i]}" = "--" ]; then
      if [ $((i + 1)) -eq "$COMP_CWORD" ]; then COMPREPLY=( $(compgen -c -- "$cur") ); else COMPREPLY=( $(compgen -f -- "$cur") ); fi
      return
    fi
  done
  case "$prev" in
    ${PATH_OPTIONS.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    --peer) COMPREPLY=( $(compgen -W "$(kappa-node __complete peers 2>/dev/null)" -- "$cur") ); return ;;
  esac
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  elif [[ " ${PEER_COMMANDS.join(' ')} " == *" $cmd "* ]] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=( $(compgen -W "$(kappa-node __complete peers 2>/dev/null)" -- "$cur") )
  elif [ "$cmd" = completion ]; then
    COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") )
  elif [ "$cmd" = help ]; then
    COMPREPLY=( $(compgen -W "${commands.map(c => c.name).join(' ')}" -- "$cur") )
  fi
}
complete -F _kappa_node kappa-node
`
}

function fish (commands: CommandInfo[]): string {
  const lines = [
    '# kappa-node completion for fish: kappa-node completion fish > ~/.config/fish/completions/kappa-node.fish',
    'complete -c kappa-node -f',
    `complete -c kappa-node -n __fish_use_subcommand -a '${commands.map(c => c.name).join(' ')}'`
  ]
  for (const c of commands) {
    for (const o of c.options) {
      if (!o.startsWith('--')) continue
      const path = PATH_OPTIONS.includes(o)
      lines.push(`complete -c kappa-node -n '__fish_seen_subcommand_from ${c.name}' -l ${o.slice(2)}${path ? ' -r -F' : ''}`)
    }
  }
  lines.push(`complete -c kappa-node -n '__fish_seen_subcommand_from ${PEER_COMMANDS.join(' ')}' -a '(kappa-node __complete peers 2>/dev/null)'`)
  lines.push("complete -c kappa-node -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
  return lines.join('\n') + '\n'
}
