/**
 * Tomcat's StandardSessionIdGenerator: `sessionIdLength` random bytes as upper-case hex, plus
 * `.jvmRoute` so a load balancer can keep a client on the node that holds its session.
 * The bytes come from the runtime's CSPRNG (crypto.getRandomValues); Tomcat's secureRandom*
 * attributes have nothing to choose between here.
 */
import { logger } from "../util/log.ts";
import { SessionIdGenerator as SessionIdGeneratorDef } from "../config/schema.ts";

const log = logger("session");
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));
// getRandomValues refuses more than 65536 bytes per call.
const MAX_RANDOM_CHUNK = 65536;

/** The schema's default (`<SessionIdGenerator sessionIdLength>`). */
export const DEFAULT_SESSION_ID_LENGTH: number = SessionIdGeneratorDef.attrs.sessionIdLength.default;

export class SessionIdGenerator {
  private length = DEFAULT_SESSION_ID_LENGTH;
  jvmRoute: string | null = null;

  get sessionIdLength(): number {
    return this.length;
  }

  /** Values below 2 are refused with Tomcat's warning, keeping the current length. */
  set sessionIdLength(value: number) {
    if (!Number.isInteger(value) || value < 2) {
      log.warn(
        `The requested session ID length of [${value}] is too short so the current value of [${this.length}] will be used`,
      );
      return;
    }
    this.length = value;
  }

  generate(): string {
    const bytes = new Uint8Array(this.length);
    for (let i = 0; i < bytes.length; i += MAX_RANDOM_CHUNK) {
      crypto.getRandomValues(bytes.subarray(i, i + MAX_RANDOM_CHUNK));
    }
    let id = "";
    for (const b of bytes) id += HEX[b];
    return this.jvmRoute ? `${id}.${this.jvmRoute}` : id;
  }
}
