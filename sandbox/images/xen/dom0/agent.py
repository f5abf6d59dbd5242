#!/usr/bin/env python3
"""xenlab exec agent in dom0: runs commands for the host over the virtio-serial port `org.xenlab.agent`.

Protocol: one JSON object per line each way (json.dumps escapes every non-ASCII byte, so a line is always one line).
  request  {"id": 1, "op": "exec", "argv": [...], "input": "", "timeoutMs": 30000, "env": {...}}
  reply    {"id": 1, "code": 0, "stdout": "...", "stderr": "...", "timedOut": false}
  request  {"id": 2, "op": "ping"}    reply {"id": 2, "ok": true, "ready": true, "uptime": 12.3, "hostname": "..."}
           (ready: dom0's init has started the Xen daemons and the bridge)
  request  {"id": 3, "op": "settime", "epoch": n}  reply {"id": 3, "ok": true}   (after a saved VM is restored)
Each request runs in its own thread, so a slow command does not hold up a ping.
"""
import glob, json, os, signal, socket, subprocess, threading, time

NAME = "org.xenlab.agent"
CAP = 1024 * 1024  # the host keeps at most this much of each stream; a flood must not fill dom0's memory


def find_port():
    for d in glob.glob("/sys/class/virtio-ports/*"):
        try:
            with open(d + "/name") as f:
                if f.read().strip() == NAME:
                    return "/dev/" + os.path.basename(d)
        except OSError:
            pass
    return None


lock = threading.Lock()


def send(fd, obj):
    data = (json.dumps(obj) + "\n").encode()
    with lock:
        while data:
            try:
                n = os.write(fd, data)
            except OSError:
                return  # host went away (virtio_console says EPIPE/ENODEV); the reply is lost, not the agent
            data = data[n:]


def run(req):
    argv = req.get("argv") or []
    timeout = (req.get("timeoutMs") or 30000) / 1000.0
    env = dict(os.environ)
    env.update(req.get("env") or {})
    try:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, cwd=req.get("cwd") or "/root", start_new_session=True)
    except OSError as e:
        return {"code": 127, "stdout": "", "stderr": "%s: %s\n" % (argv[0] if argv else "", e.strerror),
                "timedOut": False}
    timed_out = False
    try:
        out, err = p.communicate((req.get("input") or "").encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the whole session: `sh -c 'sleep 99 &'` leaves nothing behind
        except OSError:
            pass
        out, err = p.communicate()
    code = p.returncode if p.returncode >= 0 else None
    return {"code": code, "stdout": out[:CAP].decode("utf-8", "replace"),
            "stderr": err[:CAP].decode("utf-8", "replace"), "timedOut": timed_out}


def handle(fd, req):
    rid = req.get("id")
    try:
        op = req.get("op")
        if op == "exec":
            reply = run(req)
        elif op == "ping":
            with open("/proc/uptime") as f:
                reply = {"ok": True, "uptime": float(f.read().split()[0]), "hostname": socket.gethostname(),
                         "ready": os.path.exists("/run/xenlab/ready")}
        elif op == "settime":
            time.clock_settime(time.CLOCK_REALTIME, float(req["epoch"]))
            reply = {"ok": True}
        else:
            reply = {"error": "AGENT_ERR_UNKNOWN_OP: %r" % (op,)}
    except Exception as e:  # a bad request gets an answer, never a dead agent
        reply = {"error": "AGENT_ERR_FAILED: %s" % (e,)}
    reply["id"] = rid
    send(fd, reply)


def main():
    path = None
    while path is None or not os.path.exists(path):
        path = find_port()
        if path is None or not os.path.exists(path):
            time.sleep(0.2)
    fd = os.open(path, os.O_RDWR)
    print("agent on", path, flush=True)
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            # No host on the other end (virtio_console reads return 0 then): wait for one to connect, and forget
            # any half line the last one left.
            buf = b""
            time.sleep(0.1)
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError:
                send(fd, {"id": None, "error": "AGENT_ERR_BAD_JSON"})
                continue
            threading.Thread(target=handle, args=(fd, req), daemon=True).start()


main()
