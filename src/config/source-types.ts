/** The parsed config and its locator (source.ts, source-yaml.ts). */
export type PathSeg = string | number;
export interface Position {
  line: number;
  column: number;
}
export interface ParsedSource {
  file: string;
  format: "yaml" | "toml";
  data: unknown;
  /** Position of the value at `path` (or of its key when `key` is true); nearest ancestor if unknown. */
  locate(path: PathSeg[], key?: boolean): Position | undefined;
  /** The file the value at `path` was read from, when not `file` (a deployed context's own file). */
  fileOf?(path: PathSeg[]): string | undefined;
}

/** A file a part of the config was read from, and where in it each path (relative to that part) is. */
export type Origin = Pick<ParsedSource, "file" | "locate">;
