/**
 * Every stable error code the sandbox raises, answers or prints: what it means and what to do about it. The one
 * source of the error-code reference page (`node scripts/gen-error-codes.mjs` writes
 * site/src/content/docs/reference/error-codes.md) and of {@link ErrorCode}, the type `XenlabError.code` has.
 * `errors/codes.test.ts` fails when a code in sandbox/src is missing here or the page is stale.
 *
 * Not here: the simulator's XenAPI failures (`HANDLE_INVALID`…, xapi's own codes) and the take-home tools'
 * `TOOLS_ERR_*` (listed on the xenlab-tools reference page). The gateway's and the lab channel's wire codes are
 * declared in sandbox/src/protocol (`GatewayError`, `LabChannelError`); this table documents them and the test
 * checks it has each.
 * @module
 */

/** What a code means and what to do about it, each a sentence or two a learner or an operator can act on. */
export interface ErrorCodeInfo {
  readonly meaning: string;
  readonly fix: string;
}

/** The areas the reference page groups codes by (a code's prefix up to `_ERR_`). */
export const ERROR_AREAS = {
  GATEWAY: 'Gateway (HTTP answers, terminal WebSocket)',
  LAB: 'Labs (loading, environments, the lab channel)',
  SANDBOX: 'Sandbox drivers (local, docker, qemu-xen)',
  QEMU: 'qemu-xen machines',
  AGENT: "qemu-xen's dom0 agent",
  SIM: 'The XenAPI simulator (control API, state, worker)',
  STORE: 'The state database',
} as const;

export const ERROR_CODES = {
  // Gateway: sandbox/src/protocol/index.ts (GatewayError) and its HTTP router.
  GATEWAY_ERR_NO_TOKEN: {
    meaning: 'A terminal upgrade without `?token=`.',
    fix: 'Pages fetch one from `/api/ticket` first; reload the page.',
  },
  GATEWAY_ERR_BAD_TOKEN: {
    meaning: 'The ticket is malformed, forged, or was minted for another browser session.',
    fix: 'Reload the page (it asks for a new ticket with its own session cookie).',
  },
  GATEWAY_ERR_TOKEN_EXPIRED: {
    meaning: 'The ticket is older than its lifetime (30 s).',
    fix: 'Reload the page.',
  },
  GATEWAY_ERR_TOKEN_REUSED: {
    meaning: 'A ticket is good for one upgrade only, and this one was used.',
    fix: 'Reload the page.',
  },
  GATEWAY_ERR_BAD_ORIGIN: {
    meaning: 'The page is not on an allowed origin.',
    fix: 'Set `XENLAB_ALLOWED_ORIGINS` to the origin(s) learners use.',
  },
  GATEWAY_ERR_BAD_HOST: {
    meaning: 'The Host header is not one the gateway serves (DNS rebinding guard).',
    fix: 'Reach the gateway by the name it serves, or set `XENLAB_ALLOWED_ORIGINS`.',
  },
  GATEWAY_ERR_BAD_MESSAGE: {
    meaning: 'A text frame that is not a valid protocol message; it is ignored and the terminal goes on.',
    fix: 'None for learners; a page sending it has a bug.',
  },
  GATEWAY_ERR_BAD_VERSION: {
    meaning: 'The page speaks another terminal protocol version.',
    fix: 'Reload the page.',
  },
  GATEWAY_ERR_SPAWN_FAILED: {
    meaning: 'The driver could not start a shell.',
    fix: "Read the gateway's log for the driver's own code and message.",
  },
  GATEWAY_ERR_NOT_JOINED: {
    meaning: 'The course has a course code and this browser has not joined yet.',
    fix: 'Join with the code (the form on the page, or the `/join?code=…` link `xenlab serve` prints).',
  },
  GATEWAY_ERR_NOT_INSTRUCTOR: {
    meaning: 'An instructor endpoint (room, export, broadcast, watch) without the instructor cookie.',
    fix: 'Open the instructor link `xenlab serve` prints.',
  },
  GATEWAY_ERR_SINGLE_USER: {
    meaning: 'The request needs a course (learners, resume codes) but the gateway serves one user.',
    fix: 'Start `xenlab serve` with `--course-code` for a class.',
  },
  GATEWAY_ERR_BAD_COURSE_CODE: {
    meaning: 'The course code given to join is not this course\u2019s.',
    fix: 'Ask the instructor for the code.',
  },
  GATEWAY_ERR_BAD_TARGET: {
    meaning: 'A join link redirecting somewhere that is not a path of this site.',
    fix: 'Use a `to=` that starts with `/`.',
  },
  GATEWAY_ERR_DRIVER_UNAVAILABLE: {
    meaning:
      "Permanent: the lab's driver cannot run on this machine; the message says which driver, why (its own `SANDBOX_ERR_*` code) and what fixes it. The socket closes with 4003 and pages do not reconnect.",
    fix: 'Run the command the message names (build the image, start the engine…), then reload.',
  },
  GATEWAY_ERR_RATE_LIMITED: {
    meaning: 'Too many new learners, wrong instructor keys or resume codes from one address.',
    fix: 'Wait a minute.',
  },
  GATEWAY_ERR_TOO_MANY_ENVIRONMENTS: {
    meaning: 'The learner has as many environments running as allowed, each with a page open.',
    fix: 'Close a lab page first (or raise `XENLAB_LIVE_ENVIRONMENTS_PER_LEARNER`).',
  },
  GATEWAY_ERR_TOO_LARGE: {
    meaning: 'A request body over the limit (4 KiB).',
    fix: 'Send less.',
  },
  GATEWAY_ERR_INTERNAL: {
    meaning: 'The gateway failed answering a request; it answered 500 and carries on.',
    fix: "Read the gateway's log (the failure is logged with its code).",
  },
  GATEWAY_ERR_BAD_RESUME_CODE: {
    meaning: 'A resume code that is not one.',
    fix: 'Check the code (it is printed on the page that made it).',
  },
  GATEWAY_ERR_NOT_FOUND: {
    meaning: 'HTTP 404: no such path, learner or resource.',
    fix: 'Check the URL.',
  },
  GATEWAY_ERR_METHOD_NOT_ALLOWED: {
    meaning: 'HTTP 405: the path does not take this HTTP method.',
    fix: 'Use a method the `Allow` header names.',
  },
  GATEWAY_ERR_READ_ONLY: {
    meaning:
      "Typing in a terminal the page only watches: the instructor's shared demo (or an instructor watching a learner). The keys go nowhere.",
    fix: 'Watch; the instructor types. Ask the instructor to switch the lab back to individual environments to work on your own.',
  },
  GATEWAY_ERR_LAB_LOCKED: {
    meaning:
      'HTTP 423: the instructor has locked this lab for now (pacing the room); no environment is started for it.',
    fix: 'Wait: the page opens the lab by itself once the instructor unlocks it (no need to reload).',
  },

  // Labs: loading (sandbox/src/labs), environments (lab-runtime), the lab channel (protocol/lab.ts, grading).
  LAB_ERR_NOT_FOUND: {
    meaning: 'No `lab.yaml` in the folder, or no lab with that id.',
    fix: 'Check the id (`npx xenlab lab validate` lists the labs).',
  },
  LAB_ERR_BAD_YAML: {
    meaning: '`lab.yaml` is not valid YAML.',
    fix: 'Fix the line the message names.',
  },
  LAB_ERR_INVALID_MANIFEST: {
    meaning: 'A field does not fit the lab schema.',
    fix: 'The message gives file, line, field and what to do.',
  },
  LAB_ERR_INVALID_CHECK: {
    meaning: 'An unknown XenAPI class or field, a duplicate id, a missing file or an unknown placeholder.',
    fix: 'Fix the check the message names.',
  },
  LAB_ERR_STALE_SCHEMA: {
    meaning: '`labs/lab.schema.json` is out of date.',
    fix: 'Run `npx xenlab lab schema`.',
  },
  LAB_ERR_BAD_ID: {
    meaning: '`lab new` with an id that is not kebab-case.',
    fix: 'Use an id like `storage-basics`.',
  },
  LAB_ERR_EXISTS: {
    meaning: '`lab new` on a folder that exists.',
    fix: 'Pick another id.',
  },
  LAB_ERR_NO_DATABASE: {
    meaning: 'A lab command that reads the gateway database found none.',
    fix: 'Pass `--db FILE` (the gateway keeps it in `<data-dir>/xenlab.db`).',
  },
  LAB_ERR_SETUP_FAILED: {
    meaning: "The lab's `environment.setup` failed in a fresh environment.",
    fix: 'Fix the setup script (the message has its output); prove the lab with `npx xenlab lab test <id>`.',
  },
  LAB_ERR_FAULT: {
    meaning:
      "One of the lab's faults (`environment.faults`) could not be played: its target (a VM, host, NIC or SR) is not in the pool, or the simulator refused it.",
    fix: 'Check the target the message names exists when the fault fires (VMs made by setup, NICs as `<host>/<device>`).',
  },
  LAB_ERR_FAULT_UNSUPPORTED: {
    meaning:
      'The simulator cannot play this kind of fault (yet): `partition` and `heal` need its HA network model (`POST /_xenlab/fault/partition`).',
    fix: 'Use a simulator that has it, or another kind of fault.',
  },
  LAB_ERR_UNKNOWN_FAULT: {
    meaning:
      'A lab-channel `lab.fault` named no fault button of this lab (a fault without a `button` trigger cannot be fired from the page).',
    fix: 'Reload the page (the lab may have changed).',
  },
  LAB_ERR_FAULT_FIRED: {
    meaning:
      'That fault button was pressed already; it fires once (only `host-power-on`, `nic-up`, `sr-back` and `heal` repeat).',
    fix: "None: its effect is in the pool; the panel's Events list says when it fired.",
  },
  LAB_ERR_FAULT_TOO_SOON: {
    meaning: 'Fault buttons pressed too fast (one every few seconds per lab).',
    fix: 'Wait as long as the message says, then press again.',
  },
  LAB_ERR_NO_DRIVER: {
    meaning: 'The lab names a sandbox driver this build does not have.',
    fix: 'Use `local`, `docker` or `qemu-xen`.',
  },
  LAB_ERR_DRIVER_UNAVAILABLE: {
    meaning:
      "Permanent (lab channel): the lab's driver cannot run on this machine; the message says which, why and what to do. The channel closes with 4003.",
    fix: 'Run the command the message names, then reload.',
  },
  LAB_ERR_UNKNOWN_TASK: {
    meaning: 'A lab-channel request named a task the lab does not have.',
    fix: 'Reload the page (the lab may have changed).',
  },
  LAB_ERR_UNKNOWN_CHECK: {
    meaning: 'An answer for a check that is not a question of this lab.',
    fix: 'Reload the page (the lab may have changed).',
  },
  LAB_ERR_SOLUTION_LOCKED: {
    meaning: 'The solution was asked for before `solutionAfter` failed Checks.',
    fix: 'Keep trying; the solution unlocks after that many Checks.',
  },
  LAB_ERR_NO_MORE_HINTS: {
    meaning: 'Every hint for the current cause has been shown.',
    fix: 'Re-read the hints shown, or ask for help.',
  },
  LAB_ERR_TOO_MANY_ANSWERS: {
    meaning: "Too many answers to a task's questions in a short time.",
    fix: 'Wait as long as the message says; work it out rather than guess.',
  },
  LAB_ERR_RESET_UNAVAILABLE: {
    meaning:
      "A reset to a task whose start was never saved (it has not begun since resets existed, or a later reset dropped it), or on a lab whose driver cannot reset (qemu-xen: a nested Xen host's memory is not saved at every task).",
    fix: 'Reset to a task the panel offers it for; on a qemu-xen lab, fix things by hand or ask the instructor.',
  },
  LAB_ERR_SKIP_FAILED: {
    meaning:
      "Skipping ahead stopped: a task's solution could not be applied in the environment (the message has the end of its output), or it has no solution to apply.",
    fix: 'Read the output, fix what it names by hand (or reset to that task), then skip again; the tasks before it are skipped already.',
  },
  LAB_ERR_STEP_BUSY: {
    meaning: 'A reset or a skip is already running for this environment.',
    fix: 'Wait for it to finish (the panel shows when), then try again.',
  },
  LAB_ERR_READ_ONLY: {
    meaning:
      "Check, a hint, an answer, a fault button, a reset or a skip asked on a shared demo's page: the instructor drives the demo.",
    fix: 'Watch the task states change as the instructor works; your own environment comes back when the instructor ends the demo.',
  },
  LAB_ERR_CHALLENGE_MODE: {
    meaning: 'The solution was asked for in challenge mode, which hides solutions.',
    fix: 'Switch the lab to guided mode to see it (a solution seen earns the task no points).',
  },
  LAB_ERR_BAD_MESSAGE: {
    meaning: 'A lab-channel frame that is not a valid message (ignored).',
    fix: 'None for learners; a page sending it has a bug.',
  },
  LAB_ERR_BAD_VERSION: {
    meaning: 'The page speaks another lab protocol version.',
    fix: 'Reload the page.',
  },
  LAB_ERR_GRADER_FAILED: {
    meaning: 'Evaluating the checks failed (e.g. the pool is unreachable); the channel carries on.',
    fix: "Read the gateway's log; Check again.",
  },

  // Sandbox drivers: sandbox/src/drivers.
  SANDBOX_ERR_NO_JAIL: {
    meaning:
      '`--jail required` but bubblewrap does not work here, or (as root) a protection is missing: own uid, home image, network namespace.',
    fix: 'Install what the message names (`apt-get install bubblewrap`…), or use `--jail auto`.',
  },
  SANDBOX_ERR_HOME: {
    meaning: 'Preparing, resetting or copying a learner\u2019s home failed.',
    fix: 'The message names the command and its error (often a full disk or permissions on the data directory).',
  },
  SANDBOX_ERR_HOME_IMAGE: {
    meaning: 'Making or mounting the home image (a sparse ext4 file, as root) failed.',
    fix: 'Install e2fsprogs and util-linux; loop devices must be available.',
  },
  SANDBOX_ERR_NETWORK: {
    meaning: "The environment's network namespace or its pool relay could not be made.",
    fix: 'Install iproute2; the gateway must run as root for namespaces.',
  },
  SANDBOX_ERR_PTY: {
    meaning: "node-pty's internals are not what the non-blocking input writer expects.",
    fix: 'Pin node-pty to the version in package-lock.json (was it upgraded?).',
  },
  SANDBOX_ERR_UNSAFE_PATH: {
    meaning:
      'A path in a home is not what the gateway expects (a symlink or a file where a folder should be).',
    fix: 'Nothing is written through it; the learner can remove what is in the way.',
  },
  SANDBOX_ERR_NO_ENGINE: {
    meaning: 'The Docker engine does not answer.',
    fix: 'Start `dockerd` or set `DOCKER_HOST`.',
  },
  SANDBOX_ERR_HOST_REACHABLE: {
    meaning:
      'The host INPUT rules are missing, so containers could reach host services (the gateway included).',
    fix: "Add the rules CONTRIBUTING.md names, or pass `hostFirewall: 'apply'` as root.",
  },
  SANDBOX_ERR_NO_IMAGE: {
    meaning: 'The lab image is not on the engine.',
    fix: 'Run `xenlab image build`.',
  },
  SANDBOX_ERR_IMAGE_BUILD: {
    meaning: 'Building the lab image failed.',
    fix: 'The message says where (debootstrap needs root and a reachable mirror).',
  },
  SANDBOX_ERR_BAD_LIMITS: {
    meaning: 'A resource limit out of range.',
    fix: 'Use a value in the range the message gives.',
  },
  SANDBOX_ERR_BAD_FAULT: {
    meaning:
      'A machine fault the environment cannot play: no such machine, NIC or data disk, or the machine is powered off.',
    fix: 'Name a machine of environment.nodes and one of its NICs (eth0…) or disks; power it on first.',
  },
  SANDBOX_ERR_POWERED_OFF: {
    meaning: 'A check ran on a machine whose power a fault cut: it is off, and checks do not power it on.',
    fix: 'Press Enter on its console, or play a machine-power-on fault.',
  },
  SANDBOX_ERR_NEEDS_ROOT: {
    meaning:
      "A qemu-xen environment with a private network (two machines or more, or a node's nics) needs root: its network namespace, bridge and taps.",
    fix: 'Run the gateway (or the test) as root, or give the lab a single machine without nics.',
  },
  SANDBOX_ERR_BAD_NODE: {
    meaning: 'A node name that is not a DNS label, appears twice, or has an unknown image.',
    fix: 'Rename the node in the lab.',
  },
  SANDBOX_ERR_BAD_ID: {
    meaning: 'An environment id too long for the engine\u2019s names.',
    fix: 'Use a shorter id.',
  },
  SANDBOX_ERR_BAD_OPTION: {
    meaning: 'A driver option that does not fit (subnet pool, warm pool size).',
    fix: 'Use the form the message gives.',
  },
  SANDBOX_ERR_BAD_COMMAND: {
    meaning: 'An exec with no command.',
    fix: 'Pass the program and its arguments.',
  },
  SANDBOX_ERR_BAD_HOSTNAME: {
    meaning: 'A hostname that is not one.',
    fix: 'Use letters, digits and dashes.',
  },
  SANDBOX_ERR_NO_SWARM: {
    meaning: 'Swarm mode without a swarm manager.',
    fix: 'Run `docker swarm init --advertise-addr <this host>`.',
  },
  SANDBOX_ERR_START: {
    meaning: 'A swarm service did not start in time.',
    fix: 'The message has the service\u2019s last state.',
  },
  SANDBOX_ERR_EXEC: {
    meaning: 'The engine could not start a check (container gone, or every pid taken).',
    fix: 'Reset the environment if it persists.',
  },
  SANDBOX_ERR_POOL_LINK: {
    meaning: "The pool link could not listen on the environment's bridge or add its firewall rule.",
    fix: 'Run the gateway as root, with the engine on this host.',
  },
  SANDBOX_ERR_POOL: {
    meaning: 'The warm pool of containers did not fill in time.',
    fix: 'The message has the last error; check the engine.',
  },
  SANDBOX_ERR_SETUP: {
    meaning: 'Writing the pool settings (`~/.xe`) into a node failed.',
    fix: 'The message has the node and the error.',
  },
  SANDBOX_ERR_NO_NODE: {
    meaning: 'The environment has no node of that name.',
    fix: 'Use a node the lab declares.',
  },
  SANDBOX_ERR_DESTROYED: {
    meaning: 'The environment was destroyed.',
    fix: 'Open the lab again (a new environment is made).',
  },
  SANDBOX_ERR_SNAPSHOT: {
    meaning: 'Taking or restoring a snapshot of a home failed.',
    fix: 'The message has the node and the error.',
  },
  SANDBOX_ERR_BAD_SNAPSHOT: {
    meaning: 'A snapshot of another driver or another Xen image, or a state file that does not exist.',
    fix: 'Take a new snapshot on this driver.',
  },
  SANDBOX_ERR_NO_QEMU: {
    meaning: 'qemu-system-x86_64 is not installed.',
    fix: 'Run `apt-get install qemu-system-x86`.',
  },
  SANDBOX_ERR_NO_XEN_IMAGE: {
    meaning: 'No Xen lab image is built (or a file of it is missing).',
    fix: 'Run `sudo npx xenlab image build --xen` (with `--force` to rebuild).',
  },
  SANDBOX_ERR_NO_KVM: {
    meaning: 'No usable /dev/kvm and software emulation is switched off (`XENLAB_XEN_TCG=off`).',
    fix: 'Run on a machine with KVM, or unset `XENLAB_XEN_TCG` to accept slow boots.',
  },
  SANDBOX_ERR_PXE_CONFIG: {
    meaning: "The learner's `~/pxe/dnsmasq.conf` is missing something.",
    fix: 'The message says what, in words a learner can act on.',
  },
  SANDBOX_ERR_DRIVER_PROBE: {
    meaning: "A driver's availability probe failed without a code of its own.",
    fix: 'The message has the error.',
  },
  SANDBOX_ERR_DRIVER_START: {
    meaning: 'A driver failed to start without a code of its own.',
    fix: 'The message has the error.',
  },

  // qemu-xen machines: sandbox/src/drivers/qemu-xen.
  QEMU_ERR_BOOT_TIMEOUT: {
    meaning: 'dom0 did not come up in time.',
    fix: 'The last console lines are attached; check KVM and the image.',
  },
  QEMU_ERR_EXITED: {
    meaning: 'QEMU exited while starting, booting or loading a state.',
    fix: "The message has QEMU's stderr and the console's last lines.",
  },
  QEMU_ERR_PXE_FAILED: {
    meaning: "A PXE boot's firmware found nothing to boot (SeaBIOS: 'No bootable device').",
    fix: "The message has iPXE's last error (DHCP, TFTP or HTTP, with its ipxe.org page) and the console; the host's console shows the whole boot.",
  },
  QEMU_ERR_GUEST_STOPPED: {
    meaning: 'The VM stopped (crashed or paused) while booting.',
    fix: 'The message has the status and the console.',
  },
  QEMU_ERR_SAVE: {
    meaning: 'Saving a machine state failed or took too long.',
    fix: 'Check the free space of the state folder.',
  },
  QEMU_ERR_TIMEOUT: {
    meaning: 'Loading a saved machine state took too long.',
    fix: 'Delete the state (a cold boot remakes it).',
  },
  QEMU_ERR_QMP: {
    meaning: "QEMU's monitor (QMP) answered a command with an error.",
    fix: 'The message has its class and description.',
  },
  QEMU_ERR_QMP_CLOSED: {
    meaning: 'QEMU closed its monitor (it exited).',
    fix: 'The machine is gone; open the lab again.',
  },
  AGENT_ERR_TIMEOUT: {
    meaning: "dom0's agent did not answer in time.",
    fix: 'The machine may be overloaded; Check again.',
  },
  AGENT_ERR_CLOSED: {
    meaning: 'The VM went away while its agent was asked something.',
    fix: 'Open the lab again.',
  },

  // The simulator's own control codes (sandbox/src/sim; not XenAPI failures, which are xapi's).
  SIM_ERR_CONTROL_UNAUTHORIZED: {
    meaning: 'A control API request without the control token.',
    fix: 'Pass the token the simulator was started with.',
  },
  SIM_ERR_CONTROL_NOT_FOUND: {
    meaning: 'No such control endpoint.',
    fix: 'Check the path.',
  },
  SIM_ERR_CONTROL_BAD_REQUEST: {
    meaning: 'A control API request body that does not fit.',
    fix: 'The message says which field.',
  },
  SIM_ERR_CONTROL_BAD_ANSWER: {
    meaning: 'The control API answered something that is not JSON.',
    fix: 'The message has the start of the answer.',
  },
  SIM_ERR_FAULT_NOT_IMPLEMENTED: {
    meaning: 'A fault kind the simulator does not model.',
    fix: 'Use a fault kind the lab format documents.',
  },
  SIM_ERR_FAULT_TARGET_NOT_FOUND: {
    meaning: "A fault's target (VM, host) does not exist.",
    fix: 'Name an object the lab setup makes.',
  },
  SIM_ERR_STATE_UNREADABLE: {
    meaning: 'A saved pool state that cannot be read or is not a simulator state.',
    fix: 'Move the file aside; the pool starts fresh.',
  },
  SIM_ERR_STATE_NOT_SHAREABLE: {
    meaning: 'A pool state that cannot be opened from a worker thread (an in-memory database).',
    fix: 'Use `startSimulator` for such a state, or give a file or database path.',
  },
  SIM_ERR_SCENARIO_INVALID: {
    meaning: 'A simulator scenario file that does not fit its schema.',
    fix: 'The message says where.',
  },
  SIM_ERR_WORKER: {
    meaning: 'The simulator worker failed a request.',
    fix: 'The message has its error.',
  },
  SIM_ERR_WORKER_DIED: {
    meaning: 'The simulator worker died.',
    fix: 'The environment restarts its simulator on the next visit.',
  },
  SIM_ERR_GIVEN_UP: {
    meaning: 'The simulator worker died too often in a minute and is not restarted.',
    fix: "Read the gateway's log for why it died (often a pool too big for its memory).",
  },

  // The state database: sandbox/src/store.
  STORE_ERR_CORRUPT: {
    meaning: 'The state database is corrupt or not a database.',
    fix: 'Move it aside (with its -wal and -shm files) to start fresh, or restore it from a backup.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable error code: a key of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `s` is a code of the table. */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(ERROR_CODES, s);
}

/** The area a code belongs to (its prefix up to `_ERR_`). */
export function areaOf(code: ErrorCode): keyof typeof ERROR_AREAS {
  return code.slice(0, code.indexOf('_ERR_')) as keyof typeof ERROR_AREAS;
}
