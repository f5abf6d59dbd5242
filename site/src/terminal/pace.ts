/**
 * The room's pacing as this page knows it (issue #16): which labs the instructor locked, where they sent the
 * room, the countdown. One store per page, fed two ways:
 * - pushed: every open terminal socket gets `room.pace` after `term.ready` and on every change ({@link pushPace});
 * - polled: while no terminal socket of this page is open (a lesson without a terminal, a locked lab waiting),
 *   `GET /api/pace` every ~15 s (jittered, so a room's pages do not ask in step), with `If-None-Match`: an
 *   unchanged pacing is an empty 304.
 * Nothing polls until something on the page subscribes.
 * @module
 */
import { PATHS, RoomPace } from '@xenlab/sandbox/protocol';

/** Between polls (ms), ±20 %. */
const POLL_MS = 15_000;
/** A page with terminals waits this long for one to push before it asks (ms). */
const FIRST_POLL_WITH_TERMINALS_MS = 4_000;

/** The pacing and when this page got it (`performance.now()`): the countdown runs from there, on this clock. */
export interface PaceSnapshot {
  readonly pace: RoomPace;
  readonly receivedAt: number;
}

type Listener = (snapshot: PaceSnapshot) => void;

let snapshot: PaceSnapshot | undefined;
const listeners = new Set<Listener>();
/** Terminal sockets of this page that are open (and so get every change pushed). */
let pushing = 0;
let etag: string | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
let started = false;
/** The gateway does not know pacing (an older one): stop asking. */
let unsupported = false;

const jittered = (ms: number): number => ms * (0.8 + Math.random() * 0.4);

function publish(pace: RoomPace): void {
  snapshot = { pace, receivedAt: performance.now() };
  for (const l of listeners) l(snapshot);
}

async function poll(): Promise<void> {
  if (pushing > 0 || unsupported) return;
  try {
    const res = await fetch(PATHS.pace, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: etag ? { 'If-None-Match': etag } : {},
    });
    if (res.status === 304) return;
    if (res.status === 404) {
      unsupported = true;
      return;
    }
    if (!res.ok) return;
    const parsed = RoomPace.safeParse(await res.json());
    if (!parsed.success) return;
    etag = res.headers.get('ETag');
    publish(parsed.data);
  } catch {
    // Offline or the gateway restarting: the next poll tries again.
  }
}

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    void poll().finally(() => {
      schedule(jittered(POLL_MS));
    });
  }, ms);
}

function start(): void {
  if (started) return;
  started = true;
  schedule(document.querySelector('xenlab-terminal') ? FIRST_POLL_WITH_TERMINALS_MS : 0);
  // A laptop waking up or a tab coming back: ask at once rather than at the next tick.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && pushing === 0) schedule(0);
  });
  window.addEventListener('online', () => {
    if (pushing === 0) schedule(0);
  });
}

/**
 * Calls `listener` with the pacing now (if this page has it yet) and after every change. Starts the polling the
 * first time anything subscribes. Returns the unsubscribe function.
 */
export function onPace(listener: Listener): () => void {
  listeners.add(listener);
  start();
  if (snapshot) listener(snapshot);
  return () => listeners.delete(listener);
}

/** A terminal socket got `room.pace`. */
export function pushPace(pace: RoomPace): void {
  // An answer to an older poll can come after a push: never go back.
  if (snapshot && pace.rev < snapshot.pace.rev) return;
  publish(pace);
}

/** A terminal socket of this page is open and pushing: polls stop until the last one closes. Returns the release. */
export function socketPushing(): () => void {
  pushing++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    pushing--;
  };
}

/** The countdown's time left (ms) now, or undefined without one. */
export function timeLeft(s: PaceSnapshot): number | undefined {
  const t = s.pace.timer;
  return t ? Math.max(0, t.remainingMs - (performance.now() - s.receivedAt)) : undefined;
}

/** mm:ss (minutes past 59 stay minutes: 75:00). */
export function mmss(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Resolves once the pacing says `lab` is not locked (then after a random 0–2 s, so a room's pages do not all
 * open their labs in the same instant when the instructor unlocks). Rejects when `signal` aborts.
 */
export function whenUnlocked(lab: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DOMException('aborted', 'AbortError'));
      return;
    }
    // The pacing this page has may predate the lock (the gateway just refused): wait for one that says unlocked
    // and is newer than what the page had when it was refused, or that follows one saying locked.
    const since = snapshot?.pace.rev ?? -1;
    let sawLocked = false;
    let done = false;
    /** Unlocked already while subscribing (`early`): finished once the subscription exists. */
    const at = { subscribed: false, early: false };
    const finish = (ok: boolean) => {
      done = true;
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      if (ok) setTimeout(resolve, Math.random() * 2_000);
      else reject(new DOMException('aborted', 'AbortError'));
    };
    const onAbort = () => {
      if (!done) finish(false);
    };
    const unsubscribe = onPace((s) => {
      if (done) return;
      if (s.pace.locked.includes(lab)) sawLocked = true;
      else if (sawLocked || s.pace.rev > since) {
        if (at.subscribed) finish(true);
        else at.early = true;
      }
    });
    at.subscribed = true;
    signal.addEventListener('abort', onAbort, { once: true });
    if (at.early) finish(true);
    // Nobody pushes to a page whose terminals wait: ask soon.
    if (pushing === 0) schedule(1_000);
  });
}
