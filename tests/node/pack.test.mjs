// The package as users get it: `npm pack`, `npm install <tgz>` into an empty project, then load
// it through CommonJS and ESM, run the Node example, and compile + run the TypeScript example
// with the package's own types (exports map, `types` condition). Skip with
// SLUICEGATE_NODE_SKIP_PACK=1.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

const PKG = join(ROOT, 'bindings-node');
const skip = process.env.SLUICEGATE_NODE_SKIP_PACK === '1' && 'SLUICEGATE_NODE_SKIP_PACK=1';
let dir;
let project;

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'sluicegate-pack-'));
  project = join(dir, 'app');
  mkdirSync(project);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('npm pack ships the JS layer, types and the addon, nothing else', { skip }, () => {
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], PKG));
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'lib/errors.js', 'lib/native.js', 'lib/stream.js', 'package.json']) {
    assert.ok(files.includes(f), `${f} missing from the package: ${files}`);
  }
  assert.ok(files.some((f) => /^sluicegate\..+\.node$/.test(f)), `no .node addon in the package: ${files}`);
  for (const f of files) assert.ok(!/^(src|scripts|node_modules)\/|Cargo|\.rs$/.test(f), `${f} should not be published`);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', join(dir, info.filename)], project);
});

test('the installed package loads through require() and import', { skip }, () => {
  const cjs = run(process.execPath, ['-e', "const s = require('sluicegate'); const g = new s.Gateway({ config: 'providers: {}' }); console.log(s.VERSION, typeof g.chat.completions.create)"], project);
  assert.match(cjs, /^\d+\.\d+\.\d+ function/);
  const esm = run(process.execPath, ['--input-type=module', '-e', "import s, { Gateway, GatewayError } from 'sluicegate'; console.log(s.Gateway === Gateway, typeof GatewayError)"], project);
  assert.equal(esm.trim(), 'true function');
});

test('the Node example runs against the installed package', { skip }, () => {
  cpSync(join(ROOT, 'examples', 'node', 'chat.mjs'), join(project, 'chat.mjs'));
  const out = run(process.execPath, ['chat.mjs'], project);
  assert.match(out, /Hello from/);
  assert.match(out, /NotFoundError \(not_found, status 404\)/);
  assert.match(out, /CancelledError/);
});

test('the TypeScript example compiles (tsc --strict) and runs against the installed package', { skip }, () => {
  const ts = join(project, 'ts');
  mkdirSync(join(ts, 'node_modules', '@types'), { recursive: true });
  for (const f of ['chat.ts', 'tsconfig.json', 'package.json']) cpSync(join(ROOT, 'examples', 'typescript', f), join(ts, f));
  symlinkSync(join(project, 'node_modules', 'sluicegate'), join(ts, 'node_modules', 'sluicegate'));
  symlinkSync(join(PKG, 'node_modules', '@types', 'node'), join(ts, 'node_modules', '@types', 'node'));
  run(process.execPath, [join(PKG, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ts], ts);
  const out = run(process.execPath, [join(ts, 'dist', 'chat.js')], ts);
  assert.match(out, /Hello from gpt-4o-mini/);
  assert.match(out, /cancelled/);
});
