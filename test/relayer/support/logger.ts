/** A pino logger for tests whose lines are kept, parsed, for assertions. */
import { Writable } from "node:stream";
import pino from "pino";

export type LogLine = { level: number; msg: string; token?: string; [key: string]: unknown };

/** pino's numeric levels. */
export const ERROR = 50;
export const WARN = 40;

/** A pino logger at `level` whose lines are kept (parsed) in `lines`. */
export function capturingLogger(level = "info") {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
