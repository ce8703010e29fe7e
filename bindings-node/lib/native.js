'use strict';
// Loads the native addon: SLUICEGATE_NATIVE (an explicit path), then the .node file next to
// the package (a source build or a single-platform package), then the platform package
// `sluicegate-<platform>-<arch>[-<abi>]` (the napi-rs convention). Failing that, the error
// names what was tried and how to fix it.

const { join } = require('node:path');

function platformNames() {
  const { platform, arch } = process;
  if (platform === 'linux') return [`linux-${arch}-gnu`, `linux-${arch}-musl`];
  if (platform === 'win32') return [`win32-${arch}-msvc`];
  return [`${platform}-${arch}`];
}

function load() {
  const tried = [];
  const candidates = [];
  if (process.env.SLUICEGATE_NATIVE) candidates.push(process.env.SLUICEGATE_NATIVE);
  for (const name of platformNames()) {
    candidates.push(join(__dirname, '..', `sluicegate.${name}.node`));
    candidates.push(`sluicegate-${name}`);
  }
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (e) {
      if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(candidate)) {
        tried.push(`${candidate} (not found)`);
      } else {
        tried.push(`${candidate} (${e && e.message ? e.message.split('\n')[0] : e})`);
      }
    }
  }
  const platform = platformNames()[0];
  throw new Error(
    `sluicegate: no native binary for ${process.platform}-${process.arch} could be loaded.\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      `Fix: reinstall so npm fetches the optional package \`sluicegate-${platform}\` ` +
      '(npm skips optional platform packages when the lockfile was made on another platform: ' +
      'delete node_modules and package-lock.json, then `npm install`), or build from source with ' +
      '`npm run build` in the sluicegate package folder (needs Rust).',
  );
}

module.exports = load();
