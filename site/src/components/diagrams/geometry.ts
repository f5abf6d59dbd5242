/**
 * The geometry behind the course's diagrams, computed at build time from plain data (no graphviz, no client-side
 * rendering): boxes with arrows between their edges, and sequence diagrams (lifelines and messages). The Astro
 * components in this folder turn the result into inline SVG.
 */

/** A box: position and size in the diagram's own units (its viewBox). */
export interface Box {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  /** Its name; `\n` breaks lines. */
  readonly label: string;
  /** A smaller second line (or more, with `\n`). */
  readonly sub?: string;
  /** `accent` for what the diagram is about, `muted` for what is idle or optional (dashed). */
  readonly tone?: 'plain' | 'accent' | 'muted';
}

/** A labelled frame around boxes (a host, a storage node). */
export interface Frame {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly label: string;
}

/** An arrow from one box's edge to another's. */
export interface Arrow {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  /** Both ends get a head (a link rather than a reference). */
  readonly both?: boolean;
  readonly dashed?: boolean;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Where the straight line from a box's centre towards `toward` leaves the box. */
export function exitPoint(b: Box, toward: Point): Point {
  const cx = b.x + b.w / 2;
  const cy = b.y + b.h / 2;
  const dx = toward.x - cx;
  const dy = toward.y - cy;
  if (dx === 0 && dy === 0) return { x: cx, y: cy };
  // Scale the direction so it just touches the nearer pair of sides.
  const sx = dx === 0 ? Infinity : b.w / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : b.h / 2 / Math.abs(dy);
  const s = Math.min(sx, sy);
  return { x: cx + dx * s, y: cy + dy * s };
}

/** An arrow's line between two boxes, edge to edge, and where its label goes (the middle). */
export function arrowLine(from: Box, to: Box): { a: Point; b: Point; mid: Point } {
  const fc = { x: from.x + from.w / 2, y: from.y + from.h / 2 };
  const tc = { x: to.x + to.w / 2, y: to.y + to.h / 2 };
  const a = exitPoint(from, tc);
  const b = exitPoint(to, fc);
  return { a, b, mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
}

/** A participant of a sequence diagram (a machine, a daemon). */
export interface Participant {
  readonly id: string;
  readonly label: string;
  readonly sub?: string;
}

/** One message, in time order; `from === to` is something a participant does by itself. */
export interface Message {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly dashed?: boolean;
}

export interface SequenceLayout {
  readonly width: number;
  readonly height: number;
  readonly headerHeight: number;
  readonly columns: readonly { readonly id: string; readonly x: number; readonly participant: Participant }[];
  readonly rows: readonly {
    readonly y: number;
    readonly x1: number;
    readonly x2: number;
    readonly self: boolean;
    readonly message: Message;
    readonly n: number;
  }[];
}

/**
 * Lays a sequence diagram out: one column per participant, one row per message.
 * @throws when a message names a participant that is not listed (a typo in the diagram's data).
 */
export function layoutSequence(
  participants: readonly Participant[],
  messages: readonly Message[],
  options: { columnWidth?: number; rowHeight?: number; margin?: number } = {},
): SequenceLayout {
  const columnWidth = options.columnWidth ?? 180;
  const rowHeight = options.rowHeight ?? 46;
  const margin = options.margin ?? 16;
  const headerHeight = 56;
  const columns = participants.map((p, i) => ({
    id: p.id,
    x: margin + columnWidth * i + columnWidth / 2,
    participant: p,
  }));
  const xOf = (id: string): number => {
    const col = columns.find((c) => c.id === id);
    if (!col) throw new Error(`sequence diagram: no participant "${id}"`);
    return col.x;
  };
  const rows = messages.map((m, i) => ({
    y: margin + headerHeight + rowHeight * (i + 1),
    x1: xOf(m.from),
    x2: xOf(m.to),
    self: m.from === m.to,
    message: m,
    n: i + 1,
  }));
  return {
    width: margin * 2 + columnWidth * participants.length,
    height: margin * 2 + headerHeight + rowHeight * (messages.length + 1),
    headerHeight,
    columns,
    rows,
  };
}
