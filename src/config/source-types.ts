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
}
