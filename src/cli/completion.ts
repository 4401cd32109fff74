/**
 * `qmig completion bash|zsh|fish`: a shell completion script for the qmig commands and their
 * options, generated from the command table (so it never lists a flag a command does not take),
 * plus the values of --table-style, --color, --batch-order and the profile names of --node
 * (the [sections] of $QMIG_CLI_CONFIG or ~/.qmig.conf).
 *   bash: source <(qmig completion bash)      zsh: source <(qmig completion zsh)
 *   fish: qmig completion fish | source
 */
import type { Subcommand } from './main.js';
import { TABLE_STYLES } from './presentation.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const VALUES: Record<string, string[]> = {
  '--table-style': [...TABLE_STYLES],
  '--color': ['auto', 'always', 'never'],
  '--batch-order': ['smallest_first', 'largest_first'],
  '--time-zone': ['UTC', 'local'],
};

const PROFILES_SH = `sed -n 's/^[[:space:]]*\\[\\([^]]*\\)\\][[:space:]]*$/\\1/p' "\${QMIG_CLI_CONFIG:-$HOME/.qmig.conf}" 2>/dev/null`;

function words(list: string[]): string {
  return list.join(' ');
}

function bash(commands: Subcommand[]): string {
  const names = [...commands.map((c) => c.name), 'help'];
  const cases = commands.map((c) => `    ${c.name}) opts="${words(c.options ?? ['--help'])}" ;;`).join('\n');
  const values = Object.entries(VALUES)
    .map(([flag, v]) => `    ${flag}) COMPREPLY=($(compgen -W "${words(v)}" -- "$cur")); return ;;`)
    .join('\n');
  return `# bash completion for qmig: source <(qmig completion bash)
_qmig() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ] || { [ "$cmd" = help ] && [ "$COMP_CWORD" -eq 2 ]; }; then
    COMPREPLY=($(compgen -W "${words(names)}" -- "$cur"))
    return
  fi
  case "$prev" in
${values}
    --node) COMPREPLY=($(compgen -W "$(${PROFILES_SH})" -- "$cur")); return ;;
  esac
  case "$cmd" in
${cases}
  esac
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
  esac
}
complete -o default -F _qmig qmig
`;
}

function zsh(commands: Subcommand[]): string {
  const names = commands.map((c) => `'${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`).join(' ');
  const cases = commands.map((c) => `    ${c.name}) opts=(${(c.options ?? ['--help']).join(' ')}) ;;`).join('\n');
  const values = Object.entries(VALUES)
    .map(([flag, v]) => `    ${flag}) compadd -- ${words(v)}; return ;;`)
    .join('\n');
  return `#compdef qmig
# zsh completion for qmig: source <(qmig completion zsh)
_qmig() {
  local -a commands opts
  commands=(${names} 'help:show the help of a command')
  if (( CURRENT == 2 )) || [[ \${words[2]} == help && CURRENT == 3 ]]; then
    _describe 'qmig command' commands
    return
  fi
  case \${words[CURRENT-1]} in
${values}
    --node) compadd -- \${(f)"$(${PROFILES_SH})"}; return ;;
  esac
  case \${words[2]} in
${cases}
  esac
  compadd -- $opts
}
if (( $+functions[compdef] )); then compdef _qmig qmig; fi
`;
}

function fish(commands: Subcommand[]): string {
  const lines = [
    '# fish completion for qmig: qmig completion fish | source',
    'complete -c qmig -f',
    `complete -c qmig -n __fish_use_subcommand -a help -d 'show the help of a command'`,
    `complete -c qmig -n '__fish_seen_subcommand_from help' -a '${words(commands.map((c) => c.name))}'`,
  ];
  for (const c of commands) {
    lines.push(`complete -c qmig -n __fish_use_subcommand -a ${c.name} -d '${c.summary.replace(/'/g, "\\'")}'`);
    for (const opt of c.options ?? ['--help']) {
      const name = opt.replace(/^--/, '');
      const v = VALUES[opt];
      const arg = v ? ` -x -a '${words(v)}'` : name === 'node' ? ` -x -a '(${PROFILES_SH.replace(/'/g, "\\'")})'` : '';
      lines.push(`complete -c qmig -n '__fish_seen_subcommand_from ${c.name}' -l ${name}${arg}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function completionScript(shell: Shell, commands: Subcommand[]): string {
  return shell === 'bash' ? bash(commands) : shell === 'zsh' ? zsh(commands) : fish(commands);
}

/** The `completion` subcommand over the command table `commands()` (read when it runs). */
export function completionCommand(commands: () => Subcommand[]): Subcommand {
  return {
    name: 'completion',
    summary: 'print a shell completion script: bash, zsh or fish',
    usage:
      'usage: qmig completion bash|zsh|fish\n\nbash: source <(qmig completion bash)   zsh: source <(qmig completion zsh)   fish: qmig completion fish | source',
    options: ['--help'],
    async run(args) {
      const shell = args[0];
      if (args.length !== 1 || !(SHELLS as readonly string[]).includes(shell)) {
        console.error(`qmig completion: give one shell: ${SHELLS.join(', ')}`);
        return 2;
      }
      process.stdout.write(completionScript(shell as Shell, commands()));
      return 0;
    },
  };
}
