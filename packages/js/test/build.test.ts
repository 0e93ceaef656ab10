// The build itself: the size budget, determinism, the injected constants, the entries' shape.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { ROOT, buildIife, buildModules, defines } from '../build.mjs';

/** The budget of dist/op.js, gzip -9 (OpenPanel's op1.js: 3,277 B, Plausible 2,681, Umami 2,210). */
const BUDGET = 2000;

const iife = await buildIife();
const modules = new Map((await buildModules()).map((f) => [basename(f.path), f.text]));

describe('op.js', () => {
  test(`at most ${BUDGET} B gzip -9`, () => {
    const size = gzipSync(iife, { level: 9 }).length;
    expect(size, `op.js is ${size} B gzip -9`).toBeLessThanOrEqual(BUDGET);
  });

  test('one line of minified code, no comment to trim, ES2018 target', () => {
    const text = iife.toString('utf8');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text.startsWith('(()=>{')).toBe(true);
    expect(text).not.toMatch(/\?\?|\?\.[^\d]/); // no ES2020 syntax left
  });

  test('the same bytes on every build', async () => {
    expect((await buildIife()).equals(iife)).toBe(true);
    const again = new Map((await buildModules()).map((f) => [basename(f.path), f.text]));
    expect(again).toEqual(modules);
  });
});

describe('generated constants', () => {
  test('every declared constant is defined, and nothing is left undefined in the output', () => {
    const dts = readFileSync(join(ROOT, 'src/generated/constants.d.ts'), 'utf8');
    const declared = [...dts.matchAll(/declare const (__OP_\w+__)/g)].map((m) => m[1]);
    expect(declared.sort()).toEqual(Object.keys(defines()).sort());
    for (const [name, text] of [['op.js', iife.toString()], ...modules]) {
      expect(text, name).not.toContain('__OP_');
    }
  });

  test('values from constants.json', () => {
    const constants = JSON.parse(readFileSync(join(ROOT, 'src/generated/constants.json'), 'utf8'));
    const d = defines();
    expect(d.__OP_SDK_VERSION__).toBe(JSON.stringify(constants.sdkVersion));
    expect(d.__OP_HEADERS_CLIENT_ID__).toBe('"openpanel-client-id"');
    expect(d.__OP_SESSION_TIMEOUT_SECONDS__).toBe('1800');
  });

  test('the package version is the suite version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const constants = JSON.parse(readFileSync(join(ROOT, 'src/generated/constants.json'), 'utf8'));
    expect(pkg.version).toBe(constants.sdkVersion);
  });
});

describe('module entries', () => {
  test('ESM and CJS for every entry', () => {
    const names = ['index', 'react', 'react-router', 'next', 'vue'];
    expect([...modules.keys()].sort()).toEqual(
      names.flatMap((n) => [`${n}.cjs`, `${n}.mjs`]).sort(),
    );
  });

  test.each(['react', 'react-router', 'next'])('"use client" heads the %s entry', (name) => {
    expect(modules.get(`${name}.mjs`)!.startsWith('"use client";')).toBe(true);
    expect(modules.get(`${name}.cjs`)!.startsWith('"use client";')).toBe(true);
  });

  test('the bindings share the main entry and keep the frameworks external', () => {
    for (const name of ['react', 'vue']) {
      expect(modules.get(`${name}.mjs`)).toContain('from"./index.mjs"');
      expect(modules.get(`${name}.cjs`)).toContain('require("./index.cjs")');
      expect(modules.get(`${name}.mjs`)).toContain(`from"${name}"`);
    }
    expect(modules.get('react-router.mjs')).toContain('from"react-router"');
    expect(modules.get('next.mjs')).toContain('from"next/navigation"');
    for (const name of ['react', 'react-router', 'next', 'vue']) {
      for (const ext of ['mjs', 'cjs']) {
        // the client's code (its headers) is only in the index entry
        expect(modules.get(`${name}.${ext}`)).not.toContain('openpanel-sdk-version');
      }
    }
    expect(modules.get('index.mjs')).toContain('openpanel-sdk-version');
  });
});
