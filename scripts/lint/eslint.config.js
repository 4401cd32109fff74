// ESLint for qmig: typescript-eslint's recommended rules, import cycles, and the layering of
// ARCHITECTURE.md as boundary rules. Run from the repository root by scripts/lint.sh
// (`eslint -c scripts/lint/eslint.config.js`, so file patterns are relative to the root).
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// Layers, lowest first. A folder (or root module) may import its own layer and the ones below,
// never one above. `http` and `cli` are the top; sidecar.ts is the composition root above all.
const LAYERS = [
  ['config', 'errors', 'logging', 'redaction', 'async', 'events'],
  ['broker'],
  ['state', 'context'],
  ['snapshots'],
  ['checks'],
  ['transfer'],
  ['migration', 'bluegreen'],
  ['metrics'],
  ['http'],
];
const ROOT_MODULES = ['errors', 'logging', 'redaction', 'context'];
const pathOf = (name) => (ROOT_MODULES.includes(name) ? `./src/${name}.ts` : `./src/${name}`);

// One zone per layer: its files may not import anything above it (nor the CLI or sidecar.ts).
const zones = LAYERS.slice(0, -1).map((layer, i) => ({
  target: layer.filter((m) => m !== 'config').map(pathOf),
  from: [
    ...LAYERS.slice(i + 1)
      .flat()
      .map(pathOf),
    './src/cli',
    './src/sidecar.ts',
  ],
  message: 'ARCHITECTURE.md: a layer never imports one above it.',
}));
// config: the same, except the default state vhost name, which lives with every other broker name.
zones.push(
  { target: ['./src/config'], from: ['./src/broker'], except: ['./names.ts'], message: 'ARCHITECTURE.md: config imports only broker/names.ts above it.' },
  {
    target: ['./src/config'],
    from: [...LAYERS.slice(2).flat().map(pathOf), './src/cli', './src/sidecar.ts'],
    message: 'ARCHITECTURE.md: a layer never imports one above it.',
  },
);
// Blue-green sits beside the engine: it uses the engine's argument translation, never the reverse.
zones.push({ target: ['./src/migration'], from: ['./src/bluegreen'], message: 'ARCHITECTURE.md: migration/ never imports bluegreen/.' });
// The CLI talks to a sidecar over HTTP only: it shares config, logging and nothing else of the
// server, except `qmig serve`, which starts one (sidecar.ts).
zones.push({
  target: ['./src/cli'],
  from: ['./src'],
  except: ['./cli', './config', './logging.ts', './redaction.ts', './sidecar.ts'],
  message: 'ARCHITECTURE.md: the CLI imports only cli/, config/, logging and sidecar.ts (serve).',
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scripts/lint/**', 'src/http/ui/static/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.test.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
  {
    // Tests and benchmarks read loosely typed broker answers.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
