/**
 * The wire protocol between the course site (browser) and the gateway. Shared by both sides, so it imports
 * nothing from Node. Terminal bytes travel in binary WebSocket frames (keystrokes up, output down); everything
 * else is a JSON text frame validated by the schemas below. Message types are dotted lowercase.
 * @module
 */
import { z } from 'zod';
import { parseWith, type Parsed } from './parse.js';

/** Bumped on any incompatible change; a client sends it in `term.hello` and the gateway refuses other versions. */
export const PROTOCOL_VERSION = 1;

/** Largest frame either side may send (bytes). Keystrokes and pastes are small; a bigger frame closes with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Flow control (xterm.js guide, "flowcontrol"): the client acknowledges output bytes after xterm.js has parsed
 * them; the gateway pauses the pty while more than HIGH bytes are unacknowledged and resumes below LOW.
 * ACK_EVERY must be ≤ LOW, or the pty could stay paused forever (VS Code's terminal.ts says the same).
 */
export const FLOW = { HIGH: 128 * 1024, LOW: 16 * 1024, ACK_EVERY: 8 * 1024 } as const;

/** Terminal size limits: anything outside is clamped by the gateway, never passed through raw. */
export const TERM_LIMITS = { minCols: 2, maxCols: 1000, minRows: 1, maxRows: 500 } as const;

const dims = {
  /** Columns of the terminal as laid out in the browser. */
  cols: z.number().int().min(TERM_LIMITS.minCols).max(TERM_LIMITS.maxCols),
  /** Rows of the terminal as laid out in the browser. */
  rows: z.number().int().min(TERM_LIMITS.minRows).max(TERM_LIMITS.maxRows),
};

/** Messages the browser sends (text frames). */
export const ClientMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('term.hello'),
      /** Protocol version the client speaks. */
      v: z.number().int(),
      ...dims,
      /** What the page already shows of this terminal (after a dropped connection): only the rest is replayed. */
      resume: z
        .object({
          /** The terminal instance the page saw (`term.ready.instance`). */
          instance: z.string().max(64),
          /** Output bytes of that instance the page has. */
          offset: z.number().int().min(0),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('term.resize'),
      ...dims,
    })
    .strict(),
  z
    .object({
      type: z.literal('term.ack'),
      /** Output bytes parsed by the terminal since the previous ack. */
      bytes: z
        .number()
        .int()
        .min(0)
        .max(1 << 30),
    })
    .strict(),
  z.object({ type: z.literal('ping'), /** Echoed back in `pong`. */ t: z.number() }).strict(),
  /** The learner pressed "I'm still here" during an idle countdown. */
  z.object({ type: z.literal('env.extend') }).strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/**
 * The instructor's pacing of the room (issue #16), as every page sees it: pushed on the terminal socket
 * (`room.pace`, after `term.ready` and on every change) and answered by `GET /api/pace` for pages without a
 * terminal (or waiting for a locked lab).
 */
export const RoomPace = z
  .object({
    /** Changes with every instructor action (`GET /api/pace` answers 304 to an `If-None-Match` of it). */
    rev: z.number().int(),
    /** Lab ids the instructor locked: their pages wait (`GATEWAY_ERR_LAB_LOCKED`), no environment is made. */
    locked: z.array(z.string().max(64)).max(500),
    /** The instructor sent the room to a lab: pages show a link to it (never navigate by themselves). */
    moveTo: z
      .object({
        lab: z.string().max(64),
        /** The lab's title and its number in the course, for "Lab 5: Finding the bottleneck". */
        title: z.string().max(200),
        order: z.number().int(),
        /** When the instructor sent it (ms since epoch; a page that dismissed it remembers this). */
        at: z.number(),
      })
      .strict()
      .nullable(),
    /** A countdown in every terminal bar, or null. */
    timer: z
      .object({
        /**
         * Time left when this was sent (ms, never negative; 0 = time's up). Pages count down on their own clock
         * from when they received it, so a skewed clock does not matter.
         */
        remainingMs: z.number().min(0),
        /** What the time is for ("Lab 5"), possibly empty. */
        label: z.string().max(80),
        /** How long the countdown was set for (ms). */
        durationMs: z.number().min(0),
      })
      .strict()
      .nullable(),
  })
  .strict();
export type RoomPace = z.infer<typeof RoomPace>;

/** Messages the gateway sends (text frames). */
export const ServerMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('term.ready'),
      v: z.number().int(),
      /** Which sandbox driver runs the shell (e.g. `local`), so the page can say what the learner is in. */
      driver: z.string(),
      /** True when the shell runs in a jail; false in single-user mode. */
      jailed: z.boolean(),
      /** A notice to show the learner (e.g. why the shell is not jailed, or that it was respawned), if any. */
      notice: z.string().optional(),
      /** Identifies this shell; a page resuming after a drop sends it back in `term.hello.resume`. */
      instance: z.string(),
      /** Output bytes of this instance sent before the live stream (replay included): where the page now is. */
      offset: z.number().int().min(0),
      /** The lab and terminal name this socket is attached to. */
      lab: z.string(),
      terminal: z.string(),
      /** An instructor watching a learner's terminal: what is typed here goes nowhere. */
      readOnly: z.boolean().optional(),
      /** Watching: the learner's terminal size, for the watcher's screen to take. */
      size: z.object({ cols: z.number().int(), rows: z.number().int() }).strict().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('term.exit'),
      /** Exit code of the shell, or null if killed by a signal. */ code: z.number().nullable(),
    })
    .strict(),
  z.object({ type: z.literal('pong'), t: z.number() }).strict(),
  /** The environment has been idle: it will be culled at `cullAt` (ms since epoch) unless the learner is back. */
  z.object({ type: z.literal('env.idle'), cullAt: z.number() }).strict(),
  /** The learner is back: any idle countdown is called off. */
  z.object({ type: z.literal('env.active') }).strict(),
  /** The environment was stopped to free resources; files and pool are kept and come back on reconnect. */
  z.object({ type: z.literal('env.culled'), reason: z.string() }).strict(),
  /** Watching: the learner resized their terminal; the watcher's screen follows. */
  z.object({ type: z.literal('term.size'), cols: z.number().int(), rows: z.number().int() }).strict(),
  /** A message from the instructor to the room (shown above the terminal). */
  z.object({ type: z.literal('env.message'), text: z.string().max(500) }).strict(),
  /**
   * The instructor's pacing (locked labs, "everyone to lab N", the countdown): after `term.ready` and on every
   * change. Pages of before it ignore it (an unknown type does not parse), so the protocol version stays.
   */
  z.object({ type: z.literal('room.pace'), pace: RoomPace }).strict(),
  /**
   * The environment is still coming up (a nested Xen host boots for a minute or two): sent before `term.ready`,
   * once per phase. Meanwhile binary frames carry the boot console from its first line (display only: the page
   * clears its screen on `term.ready`, whose replay holds the same boot log).
   */
  z
    .object({
      type: z.literal('env.starting'),
      /** The driver the environment runs on (`qemu-xen`, `docker`). */
      driver: z.string(),
      /** What is starting, for a status line: "booting a Xen host (software emulation)". */
      what: z.string(),
      /** When this phase began (ms since epoch). */
      startedAt: z.number(),
      /** Expected duration of the phase (ms), from the driver's measured boots; absent when unknown. */
      etaMs: z.number().optional(),
    })
    .strict(),
  /**
   * The room is full for this lab's driver (admission control, issue #13): the environment waits in line and starts
   * when a place frees. Sent on joining the line and whenever it moves, and every 30 s (the estimate refreshed);
   * `term.ready` (or `env.starting`) follows once it starts. Closing the page leaves the line.
   */
  z
    .object({
      type: z.literal('env.queued'),
      driver: z.string(),
      /** 1 for the next to start. */
      place: z.number().int().min(1),
      /** Environments waiting for this driver, this one included. */
      waiting: z.number().int().min(1),
      /** Environments of the driver running now, and how many may. */
      running: z.number().int().min(0),
      capacity: z.number().int().min(0),
      /** About how long until it is up (ms), from measured lifetimes and starts. */
      etaMs: z.number().min(0),
    })
    .strict(),
  /**
   * The instructor's mode for this lab (after `term.ready`, and when it changes): a shared demo (`readOnly`:
   * the learner watches the instructor's terminal) or a table (who shares this environment).
   */
  z
    .object({
      type: z.literal('env.seat'),
      mode: z.enum(['demo', 'tables']),
      text: z.string(),
      readOnly: z.boolean(),
      table: z.number().int().optional(),
      members: z.array(z.string()).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('error'),
      /** Stable error code, e.g. `GATEWAY_ERR_BAD_MESSAGE`. */
      code: z.string(),
      message: z.string(),
    })
    .strict(),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** WebSocket close codes the gateway uses (4000-4999 are application codes). */
export const CLOSE = {
  /** RFC 6455: message too big (frame above MAX_FRAME_BYTES). */
  TOO_BIG: 1009,
  /** RFC 6455: policy violation (bad origin, bad token). Upgrade refusals happen before this, as HTTP 401/403. */
  POLICY: 1008,
  /** The client spoke an unknown protocol version or sent an invalid message. */
  PROTOCOL: 4400,
  /** The shell exited. */
  EXITED: 4000,
  /** An instructor's watching tab fell too far behind the learner's output (it reconnects). */
  BEHIND: 4001,
  /**
   * Permanent: this lab cannot run on this machine (its driver is unavailable; the `error` before it says which,
   * why and what to do). Reconnecting will not help: a page must not retry until it is reloaded.
   */
  UNAVAILABLE: 4003,
} as const;

/** Stable error codes of the gateway (documented in CONTRIBUTING.md). */
export const GatewayError = {
  BAD_MESSAGE: 'GATEWAY_ERR_BAD_MESSAGE',
  BAD_VERSION: 'GATEWAY_ERR_BAD_VERSION',
  NO_TOKEN: 'GATEWAY_ERR_NO_TOKEN',
  BAD_TOKEN: 'GATEWAY_ERR_BAD_TOKEN',
  TOKEN_EXPIRED: 'GATEWAY_ERR_TOKEN_EXPIRED',
  TOKEN_REUSED: 'GATEWAY_ERR_TOKEN_REUSED',
  BAD_ORIGIN: 'GATEWAY_ERR_BAD_ORIGIN',
  BAD_HOST: 'GATEWAY_ERR_BAD_HOST',
  SPAWN_FAILED: 'GATEWAY_ERR_SPAWN_FAILED',
  NOT_JOINED: 'GATEWAY_ERR_NOT_JOINED',
  /** An instructor-only endpoint asked by a browser that did not open the instructor link. */
  NOT_INSTRUCTOR: 'GATEWAY_ERR_NOT_INSTRUCTOR',
  SINGLE_USER: 'GATEWAY_ERR_SINGLE_USER',
  BAD_COURSE_CODE: 'GATEWAY_ERR_BAD_COURSE_CODE',
  BAD_TARGET: 'GATEWAY_ERR_BAD_TARGET',
  /**
   * Permanent: the lab's sandbox driver cannot run on this machine (no Docker engine, no QEMU, no image built…).
   * The message names the driver, the reason and the command that fixes it; the socket closes with
   * `CLOSE.UNAVAILABLE` (4003). Pages show it and do not reconnect.
   */
  DRIVER_UNAVAILABLE: 'GATEWAY_ERR_DRIVER_UNAVAILABLE',
  /** Too many new learners, wrong instructor keys or resume codes from one address: wait a minute. */
  RATE_LIMITED: 'GATEWAY_ERR_RATE_LIMITED',
  /** The learner has as many environments running as allowed, each with a page open: close one first. */
  TOO_MANY_ENVIRONMENTS: 'GATEWAY_ERR_TOO_MANY_ENVIRONMENTS',
  /** A request body over the limit (4 KiB). */
  TOO_LARGE: 'GATEWAY_ERR_TOO_LARGE',
  /** The gateway failed answering (logged); the gateway itself carries on. */
  INTERNAL: 'GATEWAY_ERR_INTERNAL',
  /** A resume code that is not one. */
  BAD_RESUME_CODE: 'GATEWAY_ERR_BAD_RESUME_CODE',
  /** HTTP 404: no such path (under `/api/` or the site), learner or resource. */
  NOT_FOUND: 'GATEWAY_ERR_NOT_FOUND',
  /**
   * HTTP 423: the instructor locked this lab (a ticket asked with `?lab=`, or the lab's terminal or channel
   * upgrade). No environment is made; the page says so and waits for the lab to be unlocked (`GET /api/pace`).
   */
  LAB_LOCKED: 'GATEWAY_ERR_LAB_LOCKED',
  /** HTTP 405: a known path asked with a method it does not take; `Allow` names the ones it does. */
  METHOD_NOT_ALLOWED: 'GATEWAY_ERR_METHOD_NOT_ALLOWED',
  /** Typing in a terminal the page only watches (the instructor's shared demo): the keys go nowhere. */
  READ_ONLY: 'GATEWAY_ERR_READ_ONLY',
} as const;
export type GatewayError = (typeof GatewayError)[keyof typeof GatewayError];

/**
 * Error codes (terminal and lab channel) after which retrying cannot help: a page shows the message and stops
 * reconnecting (the socket also closes with `CLOSE.UNAVAILABLE`).
 */
export const PERMANENT_ERRORS: readonly string[] = [
  GatewayError.DRIVER_UNAVAILABLE,
  'LAB_ERR_DRIVER_UNAVAILABLE',
];

export type { Parsed } from './parse.js';

/**
 * Parses a text frame from the browser.
 * @example
 * parseClientMessage('{"type":"term.resize","cols":80,"rows":24}') // { ok: true, value: {...} }
 */
export const parseClientMessage = (text: string): Parsed<ClientMessage> => parseWith(ClientMessage, text);

/** Parses a text frame from the gateway. */
export const parseServerMessage = (text: string): Parsed<ServerMessage> => parseWith(ServerMessage, text);

/** Path of the terminal WebSocket endpoint and of the ticket endpoint that authorises it. */
export const PATHS = {
  terminal: '/ws/terminal',
  ticket: '/api/ticket',
  join: '/api/join',
  me: '/api/me',
  /** GET: this browser's learner's own grading history, `ProgressResponse` in progress.ts (the progress page). */
  progress: '/api/progress',
  /** GET `/resume?code=…` (a confirmation page), POST (form `code=…`): this browser becomes that learner. */
  resume: '/resume',
  /** The link to give learners: `/join?code=XEN42`, optionally `&name=…` and `&to=/labs/…/`. */
  joinLink: '/join',
  /** The instructor's link (`/instructor?key=…`, printed by `xenlab serve`) and their page. */
  instructorLink: '/instructor',
  instructorPage: '/instructor/',
  /** GET, instructor only: {@link InstructorRoom}. */
  instructorRoom: '/api/instructor/room',
  /** GET, instructor only: the grading history as CSV. */
  instructorExport: '/api/instructor/export.csv',
  /** POST `{ text }`, instructor only: a message on every open terminal. */
  instructorBroadcast: '/api/instructor/broadcast',
  /** POST {@link HelpRequest}: a learner asks for help. */
  help: '/api/help',
  /** POST `{ learner }`, instructor only: a raised hand was dealt with. */
  instructorHelpDone: '/api/instructor/help-done',
  /** POST `{ learner }`, instructor only: ends the learner's environments and removes them from the room. */
  instructorRemove: '/api/instructor/remove',
  /** GET: the room's pacing ({@link RoomPace}), for any page; ETag and 304 on `If-None-Match`. */
  pace: '/api/pace',
  /** POST {@link LockRequest}, instructor only: locks or unlocks labs. */
  instructorLock: '/api/instructor/lock',
  /** POST {@link MoveToRequest}, instructor only: sends the room to a lab (a link on every page), or clears it. */
  instructorMoveTo: '/api/instructor/move-to',
  /** POST {@link TimerRequest}, instructor only: starts or stops the countdown in every terminal bar. */
  instructorTimer: '/api/instructor/timer',
  /** POST {@link ModeRequest}, instructor only: a lab's mode (individual, shared demo, tables of N). */
  instructorMode: '/api/instructor/mode',
  /** The page a learner who joined by link (and gave no name) lands on, to say who they are. */
  welcomePage: '/welcome/',
} as const;

/** One learner in the instructor's view. */
export interface RoomLearner {
  readonly id: string;
  readonly name: string | null;
  readonly joinedAt: number;
  readonly lastSeenAt: number;
  /** A raised hand: the lab, what they said, since when. */
  readonly help: { readonly lab: string; readonly note: string; readonly at: number } | null;
  readonly environments: {
    readonly id: string;
    readonly lab: string;
    /** `running` in this gateway now, or `paused` (culled, or not reopened since a restart). */
    readonly state: 'running' | 'paused';
    readonly lastActiveAt: number;
    readonly terminals: { readonly name: string; readonly running: boolean; readonly viewers: number }[];
  }[];
  /** By lab id: points achieved, and each task ever attempted (first passed when, attempts, hints). */
  readonly labs: Record<
    string,
    {
      score: number;
      tasks: Record<
        string,
        {
          passedAt: number | null;
          attempts: number;
          hints: number;
          solutionShown: boolean;
          /** Skipped ahead (its solution applied for the learner, no points). */
          skipped?: boolean;
          /** What helped, in words ("2 hints, reset once"; `assistText` of lab.ts); absent when nothing did. */
          assisted?: string;
          /** Answers given to the task's questions (evaluated), and refused by the rate limit; absent when none. */
          answerAttempts?: number;
          answersRefused?: number;
        }
      >;
      /** The task they are on (issue #16); absent when every task is done or the lab was never opened. */
      current?: RoomCurrentTask;
    }
  >;
}

/**
 * A learner's current task in a lab: the first one (in the lab's order) not passed yet, and how long they have
 * been on it — since they passed the task before it (the latest pass in that lab) or opened the lab.
 */
export interface RoomCurrentTask {
  readonly task: string;
  /** Since when (ms since epoch): the latest pass in the lab, or when the lab was first opened. */
  readonly since: number;
  /** Time on it (ms): until now while the lab's environment runs, else until their last activity in the lab. */
  readonly elapsedMs: number;
  /** Failed Check presses on this task. */
  readonly failedChecks: number;
  /**
   * Why this learner looks stuck, on the lab they are working in now (absent when they do not): `slow` — on the
   * task more than twice the room's median and more than 5 minutes; `checks` — many failed Checks on it.
   */
  readonly stuck?: readonly ('slow' | 'checks')[];
}

/** What `GET /api/instructor/room` answers. */
export interface InstructorRoom {
  readonly generatedAt: number;
  readonly labs: {
    readonly id: string;
    readonly title: string;
    readonly order: number;
    readonly maxScore: number;
    readonly tasks: {
      readonly id: string;
      readonly title: string;
      readonly points: number;
      /** The room's median time on this task (ms) among those who finished it; null before anyone has. */
      readonly medianMs?: number | null;
      /** How many learners finished it (the median's sample). */
      readonly finished?: number;
    }[];
  }[];
  readonly learners: RoomLearner[];
  /** The room's pacing as learners' pages see it (locks, "everyone to lab N", the countdown). */
  readonly pace?: RoomPace;
}

/** What `POST /api/instructor/broadcast` takes. */
export const BroadcastRequest = z.object({ text: z.string().trim().min(1).max(500) }).strict();

/**
 * Lab ids are kebab-case (they equal their folder and URL slug); terminal, task and check names likewise. The one
 * definition: the lab schema checks manifests with it, the gateway checks `lab=` and `terminal=` with it (through
 * {@link isName}, which also bounds the length), the site reads lab links (`/labs/<id>/`) with it.
 * @example
 * NAME_PATTERN.test('anatomy-of-a-pool') // true
 * NAME_PATTERN.test('Anatomy') || NAME_PATTERN.test('9-lives') || NAME_PATTERN.test('a--b') // false
 */
export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The longest lab id or terminal name the gateway and the site take. */
export const NAME_MAX_LENGTH = 64;

/** A lab id or terminal name as the gateway takes it: {@link NAME_PATTERN}, at most {@link NAME_MAX_LENGTH} long. */
export const isName = (text: string): boolean => text.length <= NAME_MAX_LENGTH && NAME_PATTERN.test(text);

/**
 * A path of this site, safe to redirect to (`/join?to=…`, the welcome page's `to`): it starts with one `/` (not
 * `//` or `/\`, which browsers take as another host), and holds printable ASCII only (no spaces, no controls).
 * The one definition, for the gateway's join link and the site's welcome page alike.
 */
export const SITE_PATH = /^\/(?![/\\])[\x21-\x7e]*$/;

/**
 * Where to send the browser: `wanted` when it is a path of this site ({@link SITE_PATH}), else `/`. Never an open
 * redirect.
 * @example
 * sitePathOr('/labs/the-xenapi/') // '/labs/the-xenapi/'
 * sitePathOr('//evil.example/') // '/'
 */
export const sitePathOr = (wanted: string | null | undefined): string =>
  typeof wanted === 'string' && SITE_PATH.test(wanted) ? wanted : '/';

/** The lab whose environment a plain lesson page (not a lab) uses. */
export const PLAYGROUND_LAB = 'playground';

/** `POST /api/join` body: the course code the instructor gave (empty for self-paced), and an optional name. */
export const JoinRequest = z
  .object({
    code: z.string().max(64).default(''),
    name: z.string().max(80).optional(),
  })
  .strict();
export type JoinRequest = z.infer<typeof JoinRequest>;

/** `POST /api/help`: the learner raises a hand (or lowers it with `cancel`). */
export const HelpRequest = z
  .object({
    /** The lab they are on (`playground` for a plain lesson). */
    lab: z.string().max(NAME_MAX_LENGTH).regex(NAME_PATTERN).default(PLAYGROUND_LAB),
    /** What they are stuck on, if they say. */
    note: z.string().trim().max(200).default(''),
    cancel: z.boolean().default(false),
  })
  .strict();
export type HelpRequest = z.infer<typeof HelpRequest>;

/** `POST /api/instructor/help-done`: the instructor dealt with a learner's raised hand. */
export const HelpDoneRequest = z.object({ learner: z.string().min(1).max(64) }).strict();

/** `POST /api/instructor/remove`: the instructor removes a learner from the room. */
export const RemoveLearnerRequest = z.object({ learner: z.string().min(1).max(64) }).strict();

const labId = z.string().max(NAME_MAX_LENGTH).regex(NAME_PATTERN);

/** `POST /api/instructor/lock`: locks (or unlocks) one or more labs; answers the new {@link RoomPace}. */
export const LockRequest = z.object({ labs: z.array(labId).min(1).max(200), locked: z.boolean() }).strict();

/**
 * `POST /api/instructor/mode`: a lab's mode: `individual` (an environment per learner), `demo` (one environment the
 * instructor drives, learners watch read-only) or `tables` with `size` (2 to 12 learners share one environment).
 */
export const ModeRequest = z.union([
  z.object({ lab: labId, mode: z.enum(['individual', 'demo']) }).strict(),
  z.object({ lab: labId, mode: z.literal('tables'), size: z.number().int().min(2).max(12) }).strict(),
]);

/** `POST /api/instructor/move-to`: sends the room to a lab (a link on every learner's page), null to clear it. */
export const MoveToRequest = z.object({ lab: labId.nullable() }).strict();

/**
 * `POST /api/instructor/timer`: starts a countdown of `seconds` (replacing a running one), with an optional label,
 * or `{ "stop": true }` ends it.
 */
export const TimerRequest = z.union([
  z
    .object({
      seconds: z
        .number()
        .int()
        .min(1)
        .max(24 * 3600),
      label: z.string().trim().max(80).default(''),
    })
    .strict(),
  z.object({ stop: z.literal(true) }).strict(),
]);

/** `GET /api/me`: who this browser is, and whether joining needs a course code. */
export const MeResponse = z
  .object({
    learner: z.object({ id: z.string(), name: z.string().nullable() }).strict().nullable(),
    courseCodeRequired: z.boolean(),
    /** The learner's raised hand (null when it is down: lowered, or marked done by the instructor). */
    help: z.object({ lab: z.string(), note: z.string(), at: z.number() }).strict().nullable().optional(),
    /** The learner's resume link (a path: `/resume?code=…`): opens their environments in another browser. */
    resume: z.string().nullable().optional(),
  })
  .strict();
export type MeResponse = z.infer<typeof MeResponse>;

/** What `POST /api/ticket` returns: a short-lived, single-use token for one WebSocket upgrade. */
export const TicketResponse = z.object({ token: z.string(), expiresInMs: z.number() }).strict();
export type TicketResponse = z.infer<typeof TicketResponse>;

// The lab channel (grading) protocol lives in its own file, owned by the labs engineer.
export * from './lab.js';
// The learner's own progress (`GET /api/progress`).
export * from './progress.js';
