// Builds the native addon with cargo and copies it to `sluicegate.<platform>.node`, the file
// lib/native.js loads first. Usage: node scripts/build.mjs [--release] [other cargo flags, e.g. --locked]
//
// Plain `cargo build` shares target/ with the rest of the workspace (napi's CLI would build
// for an explicit --target in a separate directory, a second cold build).

import { spawnSync } from 'node:child_process';
import { copyFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));

function platformName() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

const args = ['build', '-p', 'sluicegate-node', '--message-format=json-render-diagnostics', ...process.argv.slice(2)];
const cargo = spawnSync(process.env.CARGO ?? 'cargo', args, { cwd: here, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28 });
if (cargo.error) throw cargo.error;
if (cargo.status !== 0) process.exit(cargo.status ?? 1);

let library;
for (const line of cargo.stdout.split('\n')) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'compiler-artifact' && message.target?.name === 'sluicegate_node') {
    library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f));
  }
}
if (!library) {
  console.error('build.mjs: cargo did not report the sluicegate_node library');
  process.exit(1);
}
const out = join(here, `sluicegate.${platformName()}.node`);
// Copy then rename, so a process that has the old file loaded keeps a valid mapping.
copyFileSync(library, `${out}.tmp`);
renameSync(`${out}.tmp`, out);
console.error(`build.mjs: ${library} -> ${out}`);
