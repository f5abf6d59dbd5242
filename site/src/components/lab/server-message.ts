/**
 * How the task panel takes a text frame from the lab channel: the terminal's reader (`terminal/server-message.ts`)
 * over the lab channel's schema. A message to act on, a type this page does not know (a newer gateway's: ignored
 * with a console warning), or a mismatch — a known type with a missing or wrong field, or no protocol message —
 * which the panel shows ("The page and the lab server disagree", Reload) while it goes on with the messages it can
 * read: a state it could not read is followed by the next one, and the channel itself is fine.
 * @module
 */
import { LabServerMessage } from '@xenlab/sandbox/protocol';
import { messageReader, type Received } from '../../terminal/server-message.ts';

/**
 * @example
 * readLabServerMessage('{"type":"lab.state",…,"trigger":"telepathy"}')
 * // { kind: 'mismatch', type: 'lab.state', issues: [{ path: ['trigger'], message: 'Invalid option: …' }] }
 */
export const readLabServerMessage: (text: string) => Received<LabServerMessage> =
  messageReader<LabServerMessage>(LabServerMessage);
