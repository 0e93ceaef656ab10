import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { defines } from './build.mjs';

export default defineConfig({
  // The same protocol constants the build injects (src/generated/constants.json).
  define: defines(),
  resolve: {
    alias: {
      // Next.js is a peer dependency the tests do not install: its two App Router hooks are
      // replaced by a small router of the tests' own (test/fakes/next-navigation.ts).
      'next/navigation': fileURLToPath(new URL('./test/fakes/next-navigation.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node',
    environmentOptions: { jsdom: { url: 'https://shop.example/' } },
    pool: 'threads',
    maxWorkers: 2,
    testTimeout: 20000,
  },
});
