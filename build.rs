//! Builds the LD_PRELOAD heap shim (src/sample/heap_shim.c) into a shared object that
//! the soak binary embeds (src/sample/heap.rs), so `cargo build` is the only step.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "src/sample/heap_shim.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("libsoak_heap.so");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        // Heap injection is Linux-only; other targets embed nothing.
        std::fs::write(&out, b"").expect("write empty shim");
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-fno-plt",
            "-fno-semantic-interposition",
            // The sites sampler's fallback unwinder walks frame pointers through the
            // shim's own frames up to the program's.
            "-fno-omit-frame-pointer",
            // operator new may throw through the shim's frames.
            "-fexceptions",
            // The shim is written into every run directory: keep the file small.
            "-Wl,-z,noseparate-code",
            "-s",
            "-Wall",
            "-Wextra",
            "-o",
        ])
        .arg(&out)
        .arg(src)
        .args(["-lpthread", "-ldl"])
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building the heap shim with {cc} failed ({s}); see the compiler output above"),
        Err(e) => panic!(
            "building the heap shim needs a C compiler: cannot run {cc}: {e} (apt-get install gcc, or set CC)"
        ),
    }
}
