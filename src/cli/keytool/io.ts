/**
 * Terminal I/O for keytool: output streams, and prompts that read stdin a line at a time.
 * Passwords are read without echo when stdin is a terminal that supports raw mode.
 */
import process from "node:process";

export interface KeytoolIO {
  stdout: { write(s: string | Uint8Array): unknown };
  stderr: { write(s: string | Uint8Array): unknown };
  /** process.stdin on Node, Bun and Deno; tests pass an array of chunks. */
  stdin: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;
  isTTY: boolean;
}

export function defaultIO(): KeytoolIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, isTTY: !!process.stdin.isTTY };
}

/** Reads lines from stdin lazily, keeping what follows a newline for the next prompt. */
export class Prompter {
  private iter?: AsyncIterator<Uint8Array | string>;
  private buffer = "";
  private eof = false;
  constructor(private io: KeytoolIO) {}

  private chunks(): AsyncIterator<Uint8Array | string> {
    const src = this.io.stdin;
    this.iter ??= (async function* () {
      yield* src;
    })();
    return this.iter;
  }

  private async readLine(): Promise<string | null> {
    const iter = this.chunks();
    for (;;) {
      const nl = this.buffer.search(/\r?\n|\r/);
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl).replace(/^(\r\n|\n|\r)/, "");
        return line;
      }
      if (this.eof) {
        if (!this.buffer) return null;
        const line = this.buffer;
        this.buffer = "";
        return line;
      }
      const { value, done } = await iter.next();
      if (done) this.eof = true;
      else this.buffer += typeof value === "string" ? value : new TextDecoder().decode(value);
    }
  }

  /** Prints `question` on stderr (as keytool does) and returns the answer, or null at end of input. */
  async ask(question: string, hidden = false): Promise<string | null> {
    const stdin = this.io.stdin as { setRawMode?: (on: boolean) => unknown };
    const raw = hidden && this.io.isTTY && typeof stdin.setRawMode === "function";
    // Echo goes off before the prompt shows, so a quick typist's password is never echoed.
    if (raw) stdin.setRawMode!(true);
    this.io.stderr.write(question);
    try {
      return raw ? await this.readHidden() : await this.readLine();
    } finally {
      if (raw) {
        stdin.setRawMode!(false);
        this.io.stderr.write("\n");
      }
    }
  }

  /** Raw-mode read: no echo; Enter ends, Backspace deletes, Ctrl-C / Ctrl-D abort. */
  private async readHidden(): Promise<string | null> {
    const iter = this.chunks();
    let s = "";
    for (;;) {
      const chunk = this.buffer ||
        await iter.next().then((
          r,
        ) => (r.done ? null : typeof r.value === "string" ? r.value : new TextDecoder().decode(r.value)));
      this.buffer = "";
      if (chunk === null) return s || null;
      for (let i = 0; i < chunk.length; i++) {
        const ch = chunk[i];
        if (ch === "\r" || ch === "\n") {
          this.buffer = chunk.slice(i + 1).replace(/^\n/, "");
          return s;
        }
        if (ch === "\u0003" || ch === "\u0004") return null;
        if (ch === "\u007f" || ch === "\b") s = s.slice(0, -1);
        else s += ch;
      }
    }
  }
}
