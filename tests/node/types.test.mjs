// index.d.ts is hand-written for the JS layer; these tests fail when it goes stale: when its
// exports, error codes or error classes drift from the runtime, or when it stops type-checking
// (strict) against typical code, including the overloads and expected type errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as esm from '../../bindings-node/index.mjs';
import { ROOT } from './helpers.mjs';

const require = createRequire(import.meta.url);
const PKG = join(ROOT, 'bindings-node');
const TSC = join(PKG, 'node_modules', 'typescript', 'bin', 'tsc');
const cjs = require(PKG);

function typescript() {
  assert.ok(existsSync(TSC), 'typescript is missing: run `npm ci` in bindings-node (tests/node/run.sh does)');
  return require(join(PKG, 'node_modules', 'typescript'));
}

/** The d.ts, read with the TypeScript parser: value exports, type exports, classes' static codes. */
function declarations() {
  const ts = typescript();
  const file = join(PKG, 'index.d.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const values = new Set();
  const types = new Set();
  const staticCodes = {};
  let errorCodes = [];
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isClassDeclaration(node) || ts.isFunctionDeclaration(node)) {
      values.add(node.name.text);
      if (ts.isClassDeclaration(node)) {
        for (const member of node.members) {
          const isStatic = member.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword);
          if (isStatic && member.name?.text === 'code' && member.type) {
            // A literal, or a union of literals (APIConnectionError's subclass adds 'timeout').
            const parts = ts.isUnionTypeNode(member.type) ? member.type.types : [member.type];
            staticCodes[node.name.text] = parts.filter(ts.isLiteralTypeNode).map((t) => t.literal.text);
          }
        }
      }
    } else if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) values.add(d.name.text);
    } else if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      types.add(node.name.text);
      if (ts.isTypeAliasDeclaration(node) && node.name.text === 'ErrorCode') {
        errorCodes = node.type.types.map((t) => t.literal.text);
      }
    }
  }
  return { values, types, staticCodes, errorCodes };
}

test('the response types in index.d.ts are generated from the core schema, and current', () => {
  // core/schema/types.schema.json is checked against what the core returns (core/tests/schema.rs).
  const run = spawnSync('python3', [join(ROOT, 'scripts', 'gen_types.py'), '--check'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const schema = JSON.parse(readFileSync(join(ROOT, 'core', 'schema', 'types.schema.json'), 'utf8'));
  const { types } = declarations();
  for (const [name, def] of Object.entries(schema.$defs)) {
    assert.ok(types.has(def['x-ts-name'] ?? name), `index.d.ts does not export ${def['x-ts-name'] ?? name}`);
  }
});

test('index.d.ts declares exactly the runtime exports', () => {
  const { values, types } = declarations();
  const runtime = Object.keys(cjs).sort();
  assert.deepEqual([...values].sort(), runtime, 'value exports in index.d.ts vs require("sluicegate")');
  assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), runtime, 'ESM vs CommonJS exports');
  for (const name of types) {
    if (!values.has(name)) assert.ok(!(name in cjs), `${name} is declared only as a type but exists at run time`);
  }
});

test('index.d.ts lists every core error code, and each class its code', () => {
  const { staticCodes, errorCodes } = declarations();
  assert.deepEqual([...errorCodes].sort(), [...cjs.errorCodes()].sort(), 'the ErrorCode union vs the core');
  for (const code of cjs.errorCodes()) {
    const cls = Object.values(cjs).find((v) => typeof v === 'function' && v.code === code);
    assert.ok(cls, code);
    assert.equal(staticCodes[cls.name]?.[0], code, `index.d.ts: ${cls.name}.code should be '${code}'`);
  }
});

test('CallOptions in index.d.ts declares every call option the core accepts', () => {
  const ts = typescript();
  const file = join(PKG, 'index.d.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const callOptions = source.statements.find((n) => ts.isInterfaceDeclaration(n) && n.name.text === 'CallOptions');
  const declared = new Set(callOptions.members.map((m) => m.name.text));
  const native = require(join(PKG, 'lib', 'native.js'));
  const keys = native.optionKeys();
  assert.ok(keys.length >= 4, String(keys));
  for (const key of keys) assert.ok(declared.has(key), `CallOptions lacks the core option \`${key}\``);
});

test('typical code type-checks under tsc --strict, and misuse does not', () => {
  typescript();
  const args = [
    TSC, '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--types', 'node', '--typeRoots', join(PKG, 'node_modules', '@types'), join(ROOT, 'tests', 'node', 'types-check.mts'),
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
