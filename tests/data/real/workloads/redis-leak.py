# Redis "leak": a client that keeps adding ~1 kB keys that nobody deletes, ~12.5 kB/s
# (45 MB/h), plus reads of random existing keys. Stops by itself after LIFETIME_S.
import os, random, socket, sys, time
port = int(sys.argv[1]); LIFETIME_S = float(os.environ.get("LIFETIME_S", "640"))
for _ in range(100):
    try: s = socket.create_connection(("127.0.0.1", port)); break
    except OSError: time.sleep(0.1)
f = s.makefile("rb")
def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    line = f.readline()
    if line[:1] == b"$":
        n = int(line[1:])
        if n >= 0: f.read(n + 2)
start = time.time(); i = 0; written = 0.0
while time.time() - start < LIFETIME_S:
    t = time.time() - start
    while written < t * 45e6 / 3600:
        v = os.urandom(500).hex().encode()  # 1000 bytes
        cmd("SET", "leak%d" % i, v); i += 1; written += len(v)
    for _ in range(10): cmd("GET", "leak%d" % random.randrange(max(i, 1)))
    time.sleep(0.1)
