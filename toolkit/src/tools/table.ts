/** The command table of `xenlab-tools`: one entry per tool, in the order `--help` lists them. */
import type { Tool } from './command.js';
import { balanceTool } from './balance/index.js';
import { bottleneckTool } from './bottleneck/index.js';
import { haTool } from './ha/index.js';
import { netTool } from './net/index.js';
import { provisionTool } from './provision/index.js';
import { pxeTool } from './pxe/index.js';
import { reportTool } from './report/index.js';
import { topTool } from './top/index.js';

/** Every tool. */
export const TOOLS: readonly Tool[] = [
  provisionTool,
  topTool,
  bottleneckTool,
  balanceTool,
  pxeTool,
  haTool,
  netTool,
  reportTool,
];
