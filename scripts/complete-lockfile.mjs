#!/usr/bin/env node
// The npm registry this project is built from lacks most platform builds of a few native
// packages (e.g. Jest's unrs-resolver: only its linux-x64/arm64 builds exist). `npm install` then
// writes a lockfile without the other optional builds, and `npm ci` refuses that lockfile as out
// of sync. This adds the missing optional entries, with the os/cpu/libc their names state, so
// `npm ci` skips them on this platform as it would with the full lockfile.
//
//   node scripts/complete-lockfile.mjs        (after any `npm install` that changes the lockfile)
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32'];
const CPU = ['arm', 'arm64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'x64'];
const LIBC = { gnu: 'glibc', gnueabihf: 'glibc', musl: 'musl', musleabihf: 'musl' };

/** "@scope/thing-linux-arm-gnueabihf" → { os: ['linux'], cpu: ['arm'], libc: ['glibc'] } */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  for (let i = 0; i < parts.length - 1; i++) {
    if (OS.includes(parts[i]) && CPU.includes(parts[i + 1])) {
      const libc = LIBC[parts[i + 2]];
      return { cpu: [parts[i + 1]], os: [parts[i]], ...(libc && { libc: [libc] }) };
    }
  }
  return undefined;
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    const platform = platformOf(name);
    if (!platform) {
      console.error(`cannot tell the platform of ${name}: add it by hand`);
      process.exitCode = 1;
      continue;
    }
    packages[hoisted] = { version, ...(entry.dev && { dev: true }), optional: true, ...platform };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} missing optional platform entries`);
