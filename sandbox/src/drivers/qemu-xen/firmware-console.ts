/**
 * A PXE machine's firmware on its serial console. QEMU's `graphics=off` makes SeaBIOS copy its text screen — and the
 * iPXE ROM's, which prints through it — to the serial line, so the learner watches DHCP, TFTP and the iPXE script
 * run as on a real server's serial-over-LAN console, and the driver sees the firmware give up ("No bootable
 * device.") instead of waiting out the boot timeout.
 * @module
 */

/**
 * What SeaBIOS sends once when its serial console starts: a terminal reset (ESC c), autowrap off and a cleared
 * screen. On the learner's terminal they would wipe the driver's lines above and leave every later line of Xen and
 * dom0 unwrapped, so they are dropped while the firmware runs (a `clear` in dom0 later is left alone).
 */
const DROPPED = ['\x1bc', '\x1b[?7l', '\x1b[2J'].map((s) => Buffer.from(s, 'latin1'));
const LONGEST = Math.max(...DROPPED.map((b) => b.length));

/** SeaBIOS's last word when no boot device worked (iPXE's included); it then halts (QEMU's reboot-timeout is off). */
const GAVE_UP = 'No bootable device';

/** An iPXE error line: what failed and its error page, e.g. `http://…/xen.gz... Connection reset (http://ipxe.org/0f0a6039)`. */
const IPXE_ERROR = /[^\r\n]*\(https?:\/\/ipxe\.org\/[0-9a-f]{8}\)/g;

/** ANSI escape sequences (iPXE colours its banner). */
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(?:\[[0-9;?]*[A-Za-z]|[^[])/g;

/** SeaBIOS copies an 80-column text screen: a longer line reaches the serial line cut at column 80. */
const COLUMNS = 80;

/** The firmware's lines as they were printed, before the screen cut them at {@link COLUMNS}. */
function unwrap(text: string): string {
  let out = '';
  let full = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    out += full ? line : `\n${line}`;
    full = line.length === COLUMNS;
  }
  return out.slice(1);
}

export class FirmwareConsole {
  private held = Buffer.alloc(0);
  private text = '';
  private active = true;
  /** Set once the firmware gave up: why, in iPXE's words when it said why. */
  failure: string | undefined;

  /** Console output as the learner should see it (bytes of a sequence split across reads are held back a read). */
  filter(d: Buffer): Buffer {
    if (!this.active) return d;
    let buf = this.held.length > 0 ? Buffer.concat([this.held, d]) : d;
    this.held = Buffer.alloc(0);
    for (const seq of DROPPED) {
      for (let at = buf.indexOf(seq); at >= 0; at = buf.indexOf(seq, at)) {
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + seq.length)]);
      }
    }
    // A trailing ESC that may begin a dropped sequence waits for the next read.
    const esc = buf.lastIndexOf(0x1b);
    if (
      esc >= 0 &&
      buf.length - esc < LONGEST &&
      DROPPED.some((s) => s.subarray(0, buf.length - esc).equals(buf.subarray(esc)))
    ) {
      this.held = Buffer.from(buf.subarray(esc));
      buf = buf.subarray(0, esc);
    }
    this.watch(buf.toString('latin1'));
    return buf;
  }

  /** The operating system took over (dom0 answered): its output passes untouched from now on. */
  end(): Buffer {
    this.active = false;
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  private watch(s: string): void {
    if (this.failure !== undefined) return;
    this.text = (this.text + s).slice(-4096);
    if (!this.text.includes(GAVE_UP)) return;
    const errors = [...unwrap(this.text.replace(ANSI, '')).matchAll(IPXE_ERROR)].map((m) => m[0].trim());
    const last = errors[errors.length - 1];
    this.failure = last === undefined ? 'no boot device worked' : `iPXE: ${last}`;
  }
}
