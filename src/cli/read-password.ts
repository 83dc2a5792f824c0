import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/**
 * A password from standard input: typed at a hidden prompt (asked twice) on a terminal,
 * otherwise the first line of what is piped in (`echo "$PASSWORD" | npm run cli -- ...`).
 */
export async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return readFirstLine();
  const first = await ask(prompt);
  const again = await ask('Again: ');
  if (first !== again) throw new Error('the two passwords differ');
  return first;
}

async function readFirstLine(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return '';
}

function ask(question: string): Promise<string> {
  let muted = false;
  // Echo the prompt, not the keystrokes.
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const prompt = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    prompt.question(question, (answer) => {
      prompt.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}
