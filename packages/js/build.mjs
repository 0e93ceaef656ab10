// The build: `node build.mjs` (npm run build). Deterministic: the same sources give the same bytes.
//
//   dist/op.js                       script tag (IIFE, minified), also copied into the Python
//                                    web bridge as package data
//   dist/index.{mjs,cjs}             the client (ESM, CJS)
//   dist/{react,react-router,next,vue}.{mjs,cjs}   bindings (framework packages external)
//   dist/*.d.ts, dist/*.d.cts        types (tsc), for `import` and `require`
//
// The protocol constants come from src/generated/constants.json (written by scripts/gen_js.py
// from the Python core) and are injected with esbuild `define` as __OP_<NAME>__.
//
// `node build.mjs --check-copy` builds op.js in memory and fails when the web bridge's copy
// differs from it; `node build.mjs --stdout` prints that in-memory op.js.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const ROOT = dirname(fileURLToPath(import.meta.url));
export const DIST = join(ROOT, 'dist');
export const BRIDGE_COPY = join(
  ROOT,
  '..',
  'web-bridge',
  'src',
  'openpanel_web_bridge',
  'static',
  'op.js',
);
const TARGET = 'es2018';
const BINDINGS = ['react', 'react-router', 'next', 'vue'];
const EXTERNAL = ['react', 'react-dom', 'react-router', 'next', 'next/*', 'vue'];

/**
 * constants.json flattened to esbuild `define`s: headers.clientId -> __OP_HEADERS_CLIENT_ID__.
 * @returns {Record<string, string>} name -> JSON of the value
 */
export function defines() {
  const constants = JSON.parse(readFileSync(join(ROOT, 'src/generated/constants.json'), 'utf8'));
  /** @type {Record<string, string>} */
  const out = {};
  const walk = (obj, path) => {
    for (const [key, value] of Object.entries(obj)) {
      const here = [...path, key.replace(/(?<!^)(?=[A-Z])/g, '_').toUpperCase()];
      if (value && typeof value === 'object' && !Array.isArray(value)) walk(value, here);
      else out[`__OP_${here.join('_')}__`] = JSON.stringify(value);
    }
  };
  walk(constants, []);
  return out;
}

const common = () => ({
  bundle: true,
  minify: true,
  target: TARGET,
  legalComments: 'none',
  charset: 'utf8',
  define: defines(),
  logLevel: 'warning',
  write: false,
  // Not tsconfig.json (for tsc and the tests): its `strict` would add a "use strict" prologue,
  // which the IIFE does not need and which would stand before "use client" in the CJS entries.
  tsconfigRaw: '{}',
});

/** The script tag, built in memory: its bytes. */
export async function buildIife() {
  const result = await esbuild.build({
    ...common(),
    entryPoints: [join(ROOT, 'src/iife.ts')],
    format: 'iife',
    platform: 'browser',
  });
  return Buffer.from(result.outputFiles[0].contents);
}

// The bindings import the client from the package's own entry, not a private copy of it.
const shareIndex = (ext) => ({
  name: 'share-index',
  setup(build) {
    build.onResolve({ filter: /^\.\/index\.js$/ }, () => ({ path: `./index.${ext}`, external: true }));
  },
});

/** The ESM and CJS entries, built in memory (esbuild output files, paths in dist/). */
export async function buildModules() {
  const files = [];
  for (const [format, ext] of [['esm', 'mjs'], ['cjs', 'cjs']]) {
    for (const name of ['index', ...BINDINGS]) {
      const result = await esbuild.build({
        ...common(),
        entryPoints: [join(ROOT, `src/${name}.ts`)],
        outfile: join(DIST, `${name}.${ext}`),
        format,
        platform: 'neutral',
        external: EXTERNAL,
        plugins: name === 'index' ? [] : [shareIndex(ext)],
      });
      files.push(...result.outputFiles);
    }
  }
  return files;
}

function buildTypes() {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  // `require` gets .d.cts twins whose relative imports point at .cjs files.
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.d.ts')) {
        const text = readFileSync(path, 'utf8').replace(
          /((?:from |import\()(['"])\.{1,2}\/[^'"]+)\.js\2/g,
          '$1.cjs$2',
        );
        writeFileSync(path.replace(/\.d\.ts$/, '.d.cts'), text);
      }
    }
  };
  walk(DIST);
}

async function main() {
  if (process.argv.includes('--stdout')) {
    process.stdout.write(await buildIife()); // op.js, built in memory (for the Python tests)
    return;
  }
  if (process.argv.includes('--check-copy')) {
    const fresh = await buildIife();
    let copy;
    try {
      copy = readFileSync(BRIDGE_COPY);
    } catch {
      copy = Buffer.alloc(0);
    }
    if (!fresh.equals(copy)) {
      console.error(`${BRIDGE_COPY} differs from a fresh build: run \`npm run build\` and commit it`);
      process.exit(1);
    }
    console.log(`web bridge copy of op.js matches the build (${fresh.length} B)`);
    return;
  }
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  const iife = await buildIife();
  writeFileSync(join(DIST, 'op.js'), iife);
  for (const file of await buildModules()) writeFileSync(file.path, file.contents);
  buildTypes();
  writeFileSync(BRIDGE_COPY, iife);
  console.log(`dist/op.js ${iife.length} B; copied to the web bridge`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
