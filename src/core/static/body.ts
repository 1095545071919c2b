import type { FileHandle } from "node:fs/promises";
import type { ByteRange } from "./range.ts";

/** A response body is a sequence of literal bytes (multipart headers) and file ranges. */
export type BodyPart = Uint8Array<ArrayBuffer> | ByteRange;

const CHUNK_SIZE = 64 * 1024;
/** Bodies up to this size are read at once so the file handle is released before responding. */
const READ_WHOLE_LIMIT = 64 * 1024;

export function bodyLength(parts: BodyPart[]): number {
  return parts.reduce(
    (sum, part) => sum + (part instanceof Uint8Array ? part.byteLength : part.end - part.start + 1),
    0,
  );
}

/**
 * Takes ownership of `handle`: it is closed once the body has been read, fails or is cancelled.
 * Large bodies stream in CHUNK_SIZE reads, so memory stays flat whatever the file size.
 */
export async function fileBody(handle: FileHandle, parts: BodyPart[]): Promise<BodyInit> {
  const stream = streamParts(handle, parts);
  if (bodyLength(parts) > READ_WHOLE_LIMIT) return stream;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function streamParts(handle: FileHandle, parts: BodyPart[]): ReadableStream<Uint8Array<ArrayBuffer>> {
  let index = 0;
  let position = -1; // next file offset inside parts[index]; -1 until that range is started
  const close = () => handle.close().catch(() => {});
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      try {
        const part = parts[index];
        if (part === undefined) {
          await close();
          controller.close();
        } else if (part instanceof Uint8Array) {
          index++;
          controller.enqueue(part);
        } else {
          if (position < 0) position = part.start;
          const wanted = Math.min(CHUNK_SIZE, part.end + 1 - position);
          const buffer = new Uint8Array(wanted);
          const { bytesRead } = await handle.read(buffer, 0, wanted, position);
          // Content-Length is already promised; a shorter file must abort the response, not hang it.
          if (bytesRead === 0) throw new Error(`file shrank while being sent (offset ${position})`);
          position += bytesRead;
          if (position > part.end) {
            index++;
            position = -1;
          }
          controller.enqueue(bytesRead === wanted ? buffer : buffer.subarray(0, bytesRead));
        }
      } catch (error) {
        await close();
        controller.error(error);
      }
    },
    cancel: close,
  });
}
