import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', 'coverage/', 'dashboard/dist/', 'bench/.results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The dashboard: the rules of hooks, and the React Compiler's checks of what a component may do
  // while rendering (the plugin's recommended set).
  { files: ['dashboard/**/*.{ts,tsx}'], ...reactHooks.configs.flat.recommended },
);
