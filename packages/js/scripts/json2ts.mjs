// JSON Schema (stdin) -> TypeScript declarations (stdout), with json-schema-to-typescript.
// Run by scripts/gen_js.py at the repository root; not part of the build.
import { readFileSync } from 'node:fs';
import { compile } from 'json-schema-to-typescript';

const schema = JSON.parse(readFileSync(0, 'utf8'));
const ts = await compile(schema, schema.title || 'Schema', {
  bannerComment: '',
  additionalProperties: false,
  unreachableDefinitions: true,
  declareExternallyReferenced: true,
  enableConstEnums: false,
  format: true,
  strictIndexSignatures: false,
});
process.stdout.write(ts);
