// A service-like JVM workload for 10-minute soaks: a worker handles "requests" (builds
// and discards garbage at a few MB/s) and, by mode, retains nothing (steady), leaks
// RATE bytes per hour (leak), or keeps a cache whose entries live TTL seconds (cache).
import java.util.*;
public class Service {
    public static void main(String[] a) throws Exception {
        String mode = a.length > 0 ? a[0] : "steady";
        double mbPerHour = a.length > 1 ? Double.parseDouble(a[1]) : 45;
        int ttl = a.length > 2 ? Integer.parseInt(a[2]) : 180;
        List<byte[]> leaked = new ArrayList<>();
        ArrayDeque<long[]> cacheTimes = new ArrayDeque<>();
        ArrayDeque<byte[]> cache = new ArrayDeque<>();
        Random r = new Random(1);
        long start = System.nanoTime();
        double leakedBytes = 0;
        long sink = 0;
        while (true) {
            // ~100 requests per tick of 10 ms, each a few KB of short-lived garbage.
            for (int i = 0; i < 100; i++) {
                StringBuilder sb = new StringBuilder();
                for (int j = 0; j < 20; j++) sb.append(r.nextInt());
                Map<String, Object> req = new HashMap<>();
                req.put("body", sb.toString());
                req.put("buf", new byte[1024 + r.nextInt(4096)]);
                sink += req.size();
            }
            double elapsedH = (System.nanoTime() - start) / 3.6e12;
            if (mode.equals("leak")) {
                while (leakedBytes < elapsedH * mbPerHour * 1e6) {
                    leaked.add(new byte[1000]);
                    leakedBytes += 1000;
                }
            } else if (mode.equals("cache")) {
                long now = System.nanoTime();
                // 200 kB/s of entries that live `ttl` seconds: bounded at 200 kB × ttl.
                cache.add(new byte[2000]);
                cacheTimes.add(new long[] {now});
                while (!cacheTimes.isEmpty() && now - cacheTimes.peek()[0] > ttl * 1_000_000_000L) {
                    cacheTimes.poll();
                    cache.poll();
                }
            }
            Thread.sleep(10);
            if (sink == 42) System.out.println(leaked.size() + cache.size());
        }
    }
}
