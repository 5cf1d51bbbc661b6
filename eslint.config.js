import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'test/cluster/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Keep the architecture honest: the pure core never reaches for I/O or outer layers.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/plan/**/*.ts', 'src/analysis/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../router/*', '../metrics/*', '../kube/*', '../controller/*', '../cli/*', '../devenv/*', '../../*'], message: 'plan and analysis import only api' },
        { group: ['@kubernetes/*', 'node:fs*', 'node:http*', 'node:net'], message: 'plan and analysis are pure' },
      ] }],
    },
  },
  {
    files: ['src/router/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/kube/*', '**/controller/*', '**/cli/*', '@kubernetes/*'], message: 'a router renders objects and patches; it never calls the API server' },
      ] }],
    },
  },
  {
    files: ['src/kube/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/plan/*', '**/analysis/*', '**/router/*', '**/controller/*', '**/cli/*'], message: 'kube knows no rollout policy' },
      ] }],
    },
  },
);
