// Node 20 steady service: an http server on 127.0.0.1 and a load loop in the same
// process that builds and discards JSON bodies of varied sizes (a few MB/s of garbage).
// A response cache with a random TTL (30-120 s) makes V8's old space grow and shrink.
// LEAK_BPS: bytes per second retained forever (a leak); 0 = steady.
// BURST_MB: every 2-4 minutes a batch job builds BURST_MB..2*BURST_MB MB of objects and
// keeps them 40-90 s (V8's old space grows, then shrinks: RSS jumps up and down).
// Stops by itself after LIFETIME_S seconds.
const http = require('http');
const LEAK_BPS = Number(process.env.LEAK_BPS || 0);
const LIFETIME_S = Number(process.env.LIFETIME_S || 660);
const BURST_MB = Number(process.env.BURST_MB || 0);
let batch = null;
function scheduleBurst() {
  setTimeout(() => {
    const mb = BURST_MB * (1 + Math.random());
    const rows = [];
    for (let i = 0; i < mb * 1e6 / 200; i++) rows.push({ i, v: 'r'.repeat(120) + i, w: i * 1.5 });
    batch = rows;
    setTimeout(() => { batch = null; scheduleBurst(); }, 40000 + Math.random() * 50000);
  }, 120000 + Math.random() * 120000);
}
if (BURST_MB > 0) scheduleBurst();
const leaked = [];
const cache = new Map();
let seq = 0;

function body(n) {
  const items = [];
  for (let i = 0; i < n; i++) {
    items.push({ id: seq++, name: 'item-' + i, tags: ['a', 'b', 'c'].slice(0, i % 3 + 1),
                 price: Math.random() * 100, note: 'x'.repeat(20 + (i % 80)) });
  }
  return { ts: Date.now(), items };
}

const server = http.createServer((req, res) => {
  const n = 200 + Math.floor(Math.random() * 1800);       // 20-200 kB bodies
  const s = JSON.stringify(body(n));
  if (Math.random() < 0.05) {                              // cache some responses for a while
    cache.set(seq, { s, until: Date.now() + 30000 + Math.random() * 90000 });
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(s);
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  function hit() {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { JSON.parse(Buffer.concat(chunks).toString()); });
    }).on('error', () => {});
  }
  setInterval(() => { for (let i = 0; i < 3; i++) hit(); }, 100);   // ~30 req/s
  setInterval(() => {                                              // expire cache
    const now = Date.now();
    for (const [k, v] of cache) if (v.until < now) cache.delete(k);
  }, 1000);
  if (LEAK_BPS > 0) {
    setInterval(() => { leaked.push('L'.repeat(Math.max(1, Math.round(LEAK_BPS / 10)))
                                     + Math.random()); }, 100);
  }
  setTimeout(() => process.exit(0), LIFETIME_S * 1000);
});
