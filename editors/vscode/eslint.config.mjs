// Lint rules for the extension: typescript-eslint's recommended set over src/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/', 'node_modules/', 'media/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
);
