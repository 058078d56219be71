// soak's Node preload (injected with NODE_OPTIONS=--require, see src/sample/node.rs).
// Publishes this process's V8 heap into $SOAK_RUNTIME_DIR/<pid>: one JSON line, padded
// to a fixed width and rewritten in place every second. It never keeps the process
// alive (unref'd timer), never throws into the program, and does nothing in worker
// threads or when SOAK_RUNTIME_DIR is unset.
'use strict';
(function soakRuntimePreload() {
  try {
    const dir = process.env.SOAK_RUNTIME_DIR;
    if (!dir) return;
    const wt = require('worker_threads');
    if (!wt.isMainThread) return;
    const fs = require('fs');
    const path = require('path');
    const v8 = require('v8');
    const WIDTH = 511;
    const state = {
      heapUsed: 0,
      afterGc: null,
      majorGcs: 0,
      minorGcs: 0,
      forcedGcs: 0,
    };
    let fd = null;
    const file = path.join(dir, String(process.pid));

    function publish() {
      try {
        state.heapUsed = v8.getHeapStatistics().used_heap_size;
        let line = JSON.stringify({
          v: 1,
          pid: process.pid,
          node: process.version,
          heap_used: state.heapUsed,
          after_gc: state.afterGc,
          major_gcs: state.majorGcs,
          minor_gcs: state.minorGcs,
          forced_gcs: state.forcedGcs,
          t: Date.now(),
        });
        if (line.length > WIDTH) return;
        line = line.padEnd(WIDTH, ' ') + '\n';
        if (fd === null) fd = fs.openSync(file, 'w', 0o644);
        fs.writeSync(fd, line, 0, 'utf8');
      } catch (_) {
        // Never disturb the program.
      }
    }

    try {
      const { PerformanceObserver, constants } = require('perf_hooks');
      const MAJOR = constants.NODE_PERFORMANCE_GC_MAJOR;
      const obs = new PerformanceObserver((list) => {
        try {
          for (const e of list.getEntries()) {
            const kind = e.detail && e.detail.kind !== undefined ? e.detail.kind : e.kind;
            if (kind === MAJOR) {
              state.majorGcs += 1;
              state.afterGc = v8.getHeapStatistics().used_heap_size;
            } else {
              state.minorGcs += 1;
            }
          }
        } catch (_) {}
      });
      obs.observe({ entryTypes: ['gc'] });
    } catch (_) {}

    const every = Number(process.env.SOAK_NODE_GC_EVERY_MS || 0);
    if (every > 0) {
      let gc = typeof global.gc === 'function' ? global.gc : null;
      try {
        if (!gc) {
          v8.setFlagsFromString('--expose-gc');
          gc = require('vm').runInNewContext('gc');
        }
      } catch (_) {
        gc = null;
      }
      if (gc) {
        const t = setInterval(() => {
          try {
            gc();
            state.forcedGcs += 1;
            // A forced collection is a full one: its result is the after-GC heap.
            state.afterGc = v8.getHeapStatistics().used_heap_size;
            publish();
          } catch (_) {}
        }, every);
        if (t.unref) t.unref();
      }
    }

    publish();
    const timer = setInterval(publish, 1000);
    if (timer.unref) timer.unref();
  } catch (_) {
    // Never disturb the program.
  }
})();
