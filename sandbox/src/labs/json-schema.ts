/**
 * The JSON schema of `lab.yaml`, generated from the zod manifest so editors validate as authors type
 * (containerlab publishes one for `*.clab.yml` the same way). `xenlab lab schema` writes `labs/lab.schema.json`;
 * `xenlab lab validate` fails when that file is stale.
 * @module
 */
import { z } from 'zod';
import { LabManifest } from './schema.js';

/** The manifest's JSON schema (draft 2020-12), as authors write it (defaults optional). */
export function labJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(LabManifest, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://xenlab.dev/schemas/lab.schema.json',
    title: 'xenlab lab manifest (labs/<id>/lab.yaml)',
  };
}

/** The text of `labs/lab.schema.json`. */
export function labJsonSchemaText(): string {
  return `${JSON.stringify(labJsonSchema(), null, 2)}\n`;
}
