// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'packages/*/build/**', 'proto/gen/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-throw-literal': 'error',
      'prefer-const': 'error',
    },
  },
  // Process boundaries (ARCHITECTURE.md): coordinator/ and worker/ never import each other; only shared/protocol
  // imports the generated gRPC code; nothing else in shared/ touches gRPC.
  {
    files: ['coordinator/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/worker/*'], message: 'coordinator/ never imports worker/' },
        { group: ['**/proto/gen/**'], message: 'use shared/protocol/rpc.js' },
      ] }],
    },
  },
  {
    files: ['worker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/coordinator/*'], message: 'worker/ never imports coordinator/' },
        { group: ['**/proto/gen/**'], message: 'use shared/protocol/rpc.js' },
      ] }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/protocol/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/proto/gen/**', '@grpc/*', '**/protocol/*', 'nats'], message: 'only shared/protocol touches gRPC/NATS' },
      ] }],
    },
  },
  {
    files: ['packages/**/*.js', 'packages/**/*.cjs', '**/*.mjs'],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', __filename: 'readonly', performance: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
