# Redis client loop (raw RESP over 127.0.0.1). MODE=plateau: fill 60k keys of ~1 kB for
# 3 minutes, then reads and overwrites of the same keys (bounded). MODE=filling: SET with
# TTL 900 s at a steady rate, so the key set grows for 15 minutes (bounded in truth,
# still filling at minute 10). MODE=leak: ~1 kB keys nobody deletes at 45 MB/h (12.5 kB/s)
# plus reads of random existing keys. Stops by itself after LIFETIME_S.
import os, random, socket, sys, time
port = int(sys.argv[1]); MODE = os.environ.get("MODE", "plateau")
LIFETIME_S = float(os.environ.get("LIFETIME_S", "640"))
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
def val(): return os.urandom(random.randint(300, 700)).hex().encode()   # 600-1400 bytes
start = time.time(); i = 0; written = 0.0
while time.time() - start < LIFETIME_S:
    t = time.time() - start
    if MODE == "plateau":
        if t < 180:
            for _ in range(33): cmd("SET", "k%d" % i, val()); i += 1      # ~330 keys/s to 60k
            time.sleep(0.1)
        else:
            for _ in range(20):
                k = "k%d" % random.randrange(i)
                cmd("GET", k) if random.random() < 0.7 else cmd("SET", k, val())
            time.sleep(0.1)
    elif MODE == "leak":
        while written < t * 45e6 / 3600:
            v = os.urandom(500).hex().encode()  # 1000 bytes
            cmd("SET", "leak%d" % i, v); i += 1; written += len(v)
        for _ in range(10): cmd("GET", "leak%d" % random.randrange(max(i, 1)))
        time.sleep(0.1)
    else:
        for _ in range(8): cmd("SET", "t%d" % i, val(), "EX", 900); i += 1  # ~80 keys/s, TTL 15 min
        for _ in range(8): cmd("GET", "t%d" % random.randrange(i))
        time.sleep(0.1)
