/**
 * `xenlab-tools`: provision, top, bottleneck, balance, pxe, ha, net and report — each usable from the command line
 * (`xenlab-tools <tool> --help`) or as functions over a {@link XapiClient}.
 * @example
 * ```ts
 * import { runTools } from '@xenlab/toolkit/tools';
 * ```
 * @module
 */
export { TOOLS } from './table.js';
export { runTools, toolsHelp, describeFailure } from './main.js';
export { runToolsCli, localFiles } from './cli.js';
export { defineTool, toolHelp, parseOptions, optionRows, kebab, POOL_OPTIONS } from './command.js';
export type { Tool, ToolSpec, OptionSpec, OptionSpecs, OptionValues } from './command.js';
export type { ToolContext, ToolHost, ToolIo, ToolFiles, PoolTarget } from './context.js';
export { ToolError, ToolErrorCode } from './errors.js';
export { createProgress, type Progress } from './progress.js';
export { parseRrdUpdates, readMetrics, type MetricsWindow } from './rrd.js';
export * from './provision/index.js';
export * from './pxe/index.js';
export * from './ha/index.js';
export * from './report/index.js';
export * from './top/index.js';
export { readPoolView, type PoolView, type HostView, type VmView } from './pool-view.js';
export * from './bottleneck/index.js';
export * from './balance/index.js';
export * from './net/index.js';
export { renderToolsReference } from './reference.js';
export { TOOL_ERROR_DOCS } from './errors.js';
