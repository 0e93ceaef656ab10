// Sizes of the built files (run `npm run build` first): minified bytes, gzip -9, brotli q11.
// `npm run sizes` prints a Markdown table (benchmarks/README.md, "Browser script size").
// gzip is `gzip -9 < file` when the gzip program is there (Node's zlib gives a few bytes more).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dist = join(import.meta.dirname, '..', 'dist');
const files = [
  ['op.js', 'script tag (IIFE)'],
  ['index.mjs', 'ESM client'],
  ['index.cjs', 'CJS client'],
  ['react.mjs', 'React provider and hooks (imports index.mjs)'],
  ['react-router.mjs', 'React Router page views (imports react.mjs)'],
  ['next.mjs', 'Next.js App Router page views (imports react.mjs)'],
  ['vue.mjs', 'Vue plugin (imports index.mjs)'],
];
const gzip = (bytes) => {
  try {
    return execFileSync('gzip', ['-9'], { input: bytes }).length;
  } catch {
    return gzipSync(bytes, { level: 9 }).length;
  }
};
const size = (bytes) => [
  bytes.length,
  gzip(bytes),
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
];
console.log('| file | what | min B | gzip -9 | brotli q11 |');
console.log('|---|---|---:|---:|---:|');
for (const [name, what] of files) {
  const [min, gz, br] = size(readFileSync(join(dist, name)));
  console.log(`| \`${name}\` | ${what} | ${min.toLocaleString('en')} | ${gz.toLocaleString('en')} | ${br.toLocaleString('en')} |`);
}
