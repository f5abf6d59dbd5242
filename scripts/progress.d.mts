// Types of progress.mjs (for the tests that import it).
export interface StepOut {
  write(s: string): unknown;
  isTTY?: boolean;
}
export interface StepResult {
  ok: boolean;
  code: number | null;
  output: string;
  ms: number;
}
export function seconds(ms: number): string;
export function runStep(step: {
  label: string;
  cmd: string;
  args: string[];
  cwd?: string;
  summary?: (output: string) => string | undefined;
  out?: StepOut;
  tty?: boolean;
  heartbeatMs?: number;
}): Promise<StepResult>;
export function astroSummary(output: string): string | undefined;
export function tscSummary(output: string): string;
