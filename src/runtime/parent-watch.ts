/**
 * A child process that must not outlive its parent. The parent (the npm launcher, or bobcat
 * starting Node for `--runtime node`) passes the read end of a pipe as an extra file
 * descriptor and names it in BOBCAT_PARENT_FD. When the parent exits for
 * any reason, SIGKILL included, the kernel closes the write end and the child reads end-of-file:
 * the child then stops as on SIGTERM, so no orphan keeps serving or holds a port. A worker's
 * primary also talks over it, both ways, one line per message (ready, reloads, session turns).
 *
 * The descriptor is a socket pair when Node, Bun or Deno started the child. On Deno, a child
 * that is not a worker watches its parent's process id instead (watchParentProcess).
 */
import type { Readable } from "node:stream";
import { RUNTIME } from "../util/runtime.ts";
import { nodeFs } from "../util/host/fs.ts";
import { deleteEnv, env, exit } from "../util/host/proc.ts";
import { DENO, type DenoApi } from "../util/host/deno.ts";

export const PARENT_FD_ENV = "BOBCAT_PARENT_FD";

let onParentExit: () => void = () => exit(1);
let watching = false;
/** Writes a line back to the parent over the same descriptor (a socket pair: both ways). */
let send: ((line: string) => void) | undefined;

/**
 * One line to the parent (a worker's "ready" to its primary); false when no parent listens.
 * The parent ignores what it does not expect.
 */
export function tellParent(line: string): boolean {
  if (!send) return false;
  try {
    send(line.endsWith("\n") ? line : `${line}\n`);
    return true;
  } catch {
    return false;
  }
}

let lineListener: ((line: string) => void) | undefined;

/** Whether a parent listens on the descriptor (tellParent can reach it). */
export function hasParent(): boolean {
  return send !== undefined;
}

/** Where the lines the parent writes go (one listener; the primary writes only to its workers). */
export function onParentLine(listener: (line: string) => void): void {
  lineListener = listener;
}

/** What to do when the parent is gone (default: exit with status 1). */
export function whenParentExits(action: () => void): void {
  onParentExit = action;
}

/** How often a Deno process started by the npm launcher checks that its parent is still there. */
const PARENT_POLL_MS = 250;

/**
 * On Deno, a process that only has to notice its parent's end (the npm launcher's child: not a
 * worker, which talks with its primary over the descriptor) watches its parent process id
 * instead of the descriptor: reading the descriptor needs node:net there, which loads Deno's
 * Node layer at every start (~36 ms of CPU and 2.3 MiB, src/util/host/deno.ts). When the parent
 * dies, SIGKILL included, the process is handed to another parent and getppid() changes; that
 * is seen within PARENT_POLL_MS. False where the parent id cannot be read.
 */
function watchParentProcess(deno: DenoApi): boolean {
  let parent: number;
  try {
    parent = deno.ppid;
  } catch {
    return false;
  }
  if (!(parent > 1)) return false;
  watching = true;
  const poll = setInterval(() => {
    if (deno.ppid === parent) return;
    clearInterval(poll);
    onParentExit();
  }, PARENT_POLL_MS);
  // The watch alone must not keep a finished command (check, version) running.
  (poll as { unref?: () => void }).unref?.();
  return true;
}

/** Starts watching the descriptor named in BOBCAT_PARENT_FD, if any. Idempotent. */
export function watchParent(): void {
  const value = env(PARENT_FD_ENV);
  if (watching || value === undefined) return;
  // Not passed on: a child this process starts gets a pipe of its own.
  deleteEnv(PARENT_FD_ENV);
  const fd = Number(value);
  if (!Number.isInteger(fd) || fd < 3) return;
  if (DENO && env("BOBCAT_WORKER") === undefined && watchParentProcess(DENO)) return;
  let stream: Readable;
  try {
    // Bun's node:net never reports the end of a descriptor's stream, its fs stream does; Deno's
    // fs cannot read an inherited descriptor, its node:net can (as Node's can). Either is loaded
    // only here, for a process that has a parent to watch (on Deno: the Node layer, see
    // src/util/host/deno.ts).
    if (RUNTIME === "bun") {
      const { createReadStream, writeSync } = nodeFs();
      stream = createReadStream("", { fd });
      send = (line) => {
        // All of it: a short write (a full socket buffer) goes on from where it stopped.
        const bytes = Buffer.from(line, "latin1");
        for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
      };
    } else {
      const { Socket } = process.getBuiltinModule("node:net");
      const socket = new Socket({ fd, readable: true, writable: true });
      stream = socket;
      send = (line) => void socket.write(line);
    }
  } catch {
    return;
  }
  watching = true;
  let gone = false;
  const parentGone = () => {
    if (gone) return;
    gone = true;
    onParentExit();
  };
  stream.on("end", parentGone);
  stream.on("close", parentGone);
  stream.on("error", parentGone);
  // Lines the parent writes go to onParentLine's listener (a primary's answers about session
  // turns); reading also keeps the end-of-file observable.
  let buffered = "";
  stream.on("data", (chunk: Buffer | string) => {
    if (!lineListener) return;
    buffered += typeof chunk === "string" ? chunk : chunk.toString("latin1");
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lineListener(line);
    }
  });
  // The watch alone must not keep a finished command (check, version) running.
  (stream as { unref?: () => void }).unref?.();
}
