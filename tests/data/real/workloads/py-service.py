# Python steady service: http.server on 127.0.0.1 in a thread, a client loop in the main
# thread requesting JSON bodies of varied sizes; a bounded dict cache (steady) or an
# unbounded one that retains LEAK_BPS bytes/s (leak). Stops by itself after LIFETIME_S.
import http.server, json, os, random, threading, time, urllib.request
LEAK_BPS = int(os.environ.get("LEAK_BPS", "0"))
LIFETIME_S = float(os.environ.get("LIFETIME_S", "660"))
cache, leaked = {}, []

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = random.randint(100, 1500)
        b = json.dumps({"ts": time.time(), "items": [{"id": i, "name": "item-%d" % i,
                        "note": "x" * (20 + i % 80), "price": random.random()} for i in range(n)]}).encode()
        key = random.randint(0, 499)            # bounded cache: 500 slots
        cache[key] = b
        self.send_response(200); self.send_header("content-length", str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d/" % srv.server_address[1]
start = last = time.time()
owed = 0.0
while time.time() - start < LIFETIME_S:
    json.loads(urllib.request.urlopen(url).read())
    now = time.time()
    if LEAK_BPS:
        owed += (now - last) * LEAK_BPS
        if owed >= 1000:
            leaked.append(os.urandom(int(owed) // 2).hex()); owed -= int(owed) // 2 * 2
    last = now
    time.sleep(0.05)
srv.shutdown()
