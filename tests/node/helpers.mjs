// Shared by the Node tests: the mock provider process, the vectors' subset matcher and the
// stream fold, exactly as tests/vectors/README.md defines them.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VECTORS_DIR = join(ROOT, 'tests', 'vectors');
export const SLUICEGATE_BIN = process.env.SLUICEGATE_BIN || join(ROOT, 'target', 'debug', 'sluicegate');

/**
 * Starts `sluicegate mock-provider --port 0 --script FILE [--api-key KEY]` and resolves once it
 * prints its URL. Returns { url, stats(), setScript(script), stop() }.
 */
export async function startMockServer(script = {}, apiKey) {
  const dir = mkdtempSync(join(tmpdir(), 'sluicegate-node-mock-'));
  const file = join(dir, 'script.json');
  writeFileSync(file, JSON.stringify(script));
  const args = ['mock-provider', '--port', '0', '--script', file];
  if (apiKey) args.push('--api-key', apiKey);
  const child = spawn(SLUICEGATE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((res) => child.once('exit', res));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`mock-provider did not start within 10 s: ${stderr}`)), 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot run ${SLUICEGATE_BIN} (build it with \`cargo build\` or set SLUICEGATE_BIN): ${e.message}`));
    });
    exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`mock-provider exited (${code}) before listening: ${stderr}`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^sluicegate mock-provider listening on (http:\/\/\S+)$/.exec(line.trim());
      if (m) res(m[1]);
      else rej(new Error(`unexpected first line from mock-provider: ${line}`));
    });
  });
  return {
    url,
    async stats() {
      const r = await fetch(`${url}/_mock/stats`);
      return r.json();
    },
    async setScript(next) {
      const r = await fetch(`${url}/_mock/script`, { method: 'POST', body: JSON.stringify(next), headers: { 'content-type': 'application/json' } });
      if (!r.ok) throw new Error(`POST /_mock/script: ${r.status} ${await r.text()}`);
    },
    async stop() {
      lines.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` (an async predicate) until it is true or `ms` pass; returns its last value. */
export async function eventually(check, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await check();
    if (ok || Date.now() > deadline) return ok;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Folds the chunks a caller received: chunks, content, contents, finish_reason, tool_calls, usage_chunk. */
export function foldStream(chunks) {
  let content = '';
  let finish = null;
  let usageChunk = false;
  const calls = [];
  const contents = [];
  for (const chunk of chunks) {
    if (chunk.usage !== undefined && chunk.usage !== null) usageChunk = true;
    (chunk.choices ?? []).forEach((each, position) => {
      const index = Number.isInteger(each.index) ? each.index : position;
      while (contents.length <= index) contents.push('');
      if (typeof each.delta?.content === 'string') contents[index] += each.delta.content;
    });
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    if (typeof choice.delta?.content === 'string') content += choice.delta.content;
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) finish = choice.finish_reason;
    for (const delta of choice.delta?.tool_calls ?? []) {
      const index = Number.isInteger(delta.index) ? delta.index : 0;
      while (calls.length <= index) calls.push({ id: null, name: null, arguments: '' });
      const call = calls[index];
      if (delta.id !== undefined && delta.id !== null) call.id = delta.id;
      if (delta.function?.name !== undefined && delta.function?.name !== null) call.name = delta.function.name;
      if (typeof delta.function?.arguments === 'string') call.arguments += delta.function.arguments;
    }
  }
  return { chunks: chunks.length, content, contents, finish_reason: finish, tool_calls: calls, usage_chunk: usageChunk };
}

const SUFFIXES = ['_contains', '_excludes', '_present'];
const texts = (v) => (Array.isArray(v) ? v.map(String) : [typeof v === 'string' ? v : JSON.stringify(v)]);
const show = (v) => (v === undefined ? 'null' : JSON.stringify(v));

/** The README's subset match: returns every mismatch as "path: ..." (empty = match). */
export function matches(expect, actual, path = '', failures = []) {
  if (expect !== null && typeof expect === 'object' && !Array.isArray(expect)) {
    for (const [key, want] of Object.entries(expect)) {
      const suffix = SUFFIXES.find((s) => key.endsWith(s) && key.length > s.length) ?? '';
      const base = suffix ? key.slice(0, -suffix.length) : key;
      const got = actual !== null && typeof actual === 'object' && !Array.isArray(actual) ? (actual[base] ?? null) : null;
      const at = `${path}.${base}`;
      if (suffix === '_contains') {
        for (const needle of texts(want)) {
          if (!(typeof got === 'string' && got.includes(needle))) failures.push(`${at}: expected to contain ${show(needle)}, got ${show(got)}`);
        }
      } else if (suffix === '_excludes') {
        for (const needle of texts(want)) {
          if (typeof got === 'string' && got.includes(needle)) failures.push(`${at}: must not contain ${show(needle)}, got ${show(got)}`);
        }
      } else if (suffix === '_present') {
        if (want !== (got !== null)) failures.push(`${at}: expected present=${want}, got ${show(got)}`);
      } else {
        matches(want, got, at, failures);
      }
    }
  } else if (Array.isArray(expect)) {
    if (!Array.isArray(actual) || actual.length !== expect.length) {
      failures.push(`${path}: expected ${show(expect)}, got ${show(actual)}`);
    } else {
      expect.forEach((want, i) => matches(want, actual[i], `${path}[${i}]`, failures));
    }
  } else if (typeof expect === 'number') {
    if (!(typeof actual === 'number' && Math.abs(actual - expect) <= 1e-9 * Math.max(Math.abs(expect), 1))) {
      failures.push(`${path}: expected ${show(expect)}, got ${show(actual)}`);
    }
  } else if (expect !== (actual ?? null)) {
    failures.push(`${path}: expected ${show(expect)}, got ${show(actual)}`);
  }
  return failures;
}
