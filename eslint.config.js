// Type-aware lint for every TypeScript file; zero warnings allowed (`npm run lint`).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
