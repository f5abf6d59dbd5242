// Type-aware lint for every TypeScript file; zero warnings allowed (`npm run lint`).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** ESLint entries that keep `sandbox/src/<room>` from importing the rooms above it (`typeOnly`: types allowed). */
function layer(room, above, typeOnly = []) {
  const group = (r) => [`../${r}/*`, `../../${r}/*`, `../../../${r}/*`];
  return [
    {
      files: [`sandbox/src/${room}/**/*.ts`],
      ignores: ['**/*.test.ts'],
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            patterns: [
              ...above.map((r) => ({
                group: group(r),
                message: `${room} sits below ${r}: arrows point one way`,
              })),
              ...typeOnly.map((r) => ({
                group: group(r),
                allowTypeImports: true,
                message: `${room} may use ${r}'s types only`,
              })),
            ],
          },
        ],
      },
    },
  ];
}

/** Every room above the logger (and so above the errors room too). */
const ABOVE_LOG = [
  'protocol',
  'sim',
  'store',
  'drivers',
  'sessions',
  'labs',
  'grading',
  'lab-runtime',
  'gateway',
  'cli',
];

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'site/.astro/**', 'site/src/env.d.ts', '**/generated/**'],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-definitions': 'off',
    },
  },
  {
    // Arrows point one way: toolkit depends on nothing else in the repo, the wire protocol has no Node imports.
    files: ['toolkit/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@xenlab/sandbox*', '@xenlab/site*', '**/sandbox/**', '**/site/**'] },
      ],
    },
  },
  {
    files: ['sandbox/src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', '@xenlab/*', '../*'] }],
    },
  },
  {
    // The course site reaches the runtime only through the wire protocol.
    files: ['site/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@xenlab/sandbox/*', '!@xenlab/sandbox/protocol'],
              message: 'the site speaks the protocol only',
            },
            {
              group: ['@xenlab/toolkit*', '**/sandbox/src/**', '**/toolkit/src/**'],
              message: 'the site speaks the protocol only',
            },
          ],
        },
      ],
    },
  },
  // The sandbox's rooms, bottom to top: errors · log · protocol · sim, store · drivers · sessions · labs · grading ·
  // lab-runtime · gateway · cli. A room imports only rooms below it (the store reads the simulator's sink types,
  // type-only). errors (XenlabError, the code table) and log (the logger) import no room but each other's: every
  // room may use them.
  ...layer('errors', ['log', ...ABOVE_LOG]),
  ...layer('log', ABOVE_LOG),
  ...layer('sim', ['drivers', 'sessions', 'labs', 'grading', 'lab-runtime', 'gateway', 'cli']),
  ...layer('store', ['drivers', 'sessions', 'labs', 'grading', 'lab-runtime', 'gateway', 'cli'], ['sim']),
  ...layer('drivers', ['store', 'sessions', 'labs', 'grading', 'lab-runtime', 'gateway', 'cli']),
  ...layer('sessions', ['labs', 'grading', 'lab-runtime', 'gateway', 'cli']),
  ...layer('labs', ['grading', 'lab-runtime', 'sessions', 'gateway', 'cli']),
  ...layer('grading', ['lab-runtime', 'sessions', 'gateway', 'cli']),
  ...layer('lab-runtime', ['gateway', 'cli']),
  ...layer('gateway', ['cli']),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
