# Runs a command on a pseudo-terminal of a given width (0: one that reports no size) and reads all
# it writes; prints a JSON line {"code", "seconds", "bytes", "output"}. Used by test/e2e/tty.test.ts.
import json, os, pty, select, struct, sys, time
cols = int(sys.argv[1]); limit = float(sys.argv[2]); argv = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    if cols > 0:
        import fcntl, termios
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.execvp(argv[0], argv)
out = b""; t0 = time.time(); code = None
while True:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        out += d
    if time.time() - t0 > limit:
        os.kill(pid, 9)
        code = "timeout"
        break
_, st = os.waitpid(pid, 0)
if code is None:
    code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else -os.WTERMSIG(st)
print(json.dumps({"code": code, "seconds": round(time.time() - t0, 2), "bytes": len(out), "output": out[-4000:].decode("utf8", "replace")}))
