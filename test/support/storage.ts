import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every file below `dir`, as paths relative to it (an absent folder is empty). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Polls `check` until it holds (or 10 s pass): for effects that follow a response, not precede it. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still not true after 10 s: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
