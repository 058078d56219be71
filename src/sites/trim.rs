//! The program's frames of a sampled allocation stack: what lies between the allocator
//! (innermost) and the start-up code (outermost). The Rust runtime rules are shared with
//! the in-process dhat sites (`sample::dhat_sites`), whose frames are Rust symbols too.

use super::symbolize::Frame;

/// Rust's standard library, its trait impls and its allocator entry points: plumbing
/// between the program and the allocator, and between the start-up code and `main`.
/// `symbol` is a demangled name, possibly followed by " (file:line)".
pub fn is_rust_runtime(symbol: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "std::",
        "core::",
        "alloc::",
        "hashbrown::",
        "__rust",
        "__rdl_",
        "<std::",
        "<core::",
        "<alloc::",
        "<hashbrown::",
    ];
    // Trait impls of the standard library's traits (`<u8 as alloc::vec::…>::from_elem`).
    const TRAITS: [&str; 3] = [" as alloc::", " as core::", " as std::"];
    PREFIXES.iter().any(|p| symbol.starts_with(p)) || TRAITS.iter().any(|t| symbol.contains(t))
}

/// The C start-up and thread-start functions (glibc's names): every frame from the
/// innermost of them outwards is not the program's.
pub fn is_startup(symbol: &str) -> bool {
    const NAMES: [&str; 10] = [
        "_start",
        "__libc_start_main",
        "__libc_start_main_impl",
        "__libc_start_call_main",
        "start_thread",
        "clone",
        "clone3",
        "__clone",
        "__clone3",
        "__GI___clone3",
    ];
    let name = symbol.split(" (").next().unwrap_or(symbol);
    NAMES.contains(&name)
}

/// soak's own heap shim (the in-tree name and the copy in the run directory).
fn is_shim(f: &Frame) -> bool {
    f.module.starts_with("libsoak_heap") || f.module == ".soak-heap-shim.so"
}

/// Shared objects that are the allocator or the runtime under it: the C library, the
/// dynamic loader and the allocators soak's shim supports.
fn is_runtime_module(module: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "libc.so",
        "libc-",
        "ld-linux",
        "ld.so",
        "ld-",
        "libpthread",
        "libjemalloc",
        "libtcmalloc",
        "libmimalloc",
    ];
    PREFIXES.iter().any(|p| module.starts_with(p))
}

/// The malloc family by name, for allocators linked into the program or symbols seen
/// outside their library.
fn is_alloc_function(name: &str) -> bool {
    const NAMES: [&str; 12] = [
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
        "strdup",
        "strndup",
    ];
    NAMES.contains(&name)
        || name.starts_with("__libc_")
        || name.starts_with("operator new")
        || name.starts_with("operator delete")
        || name.starts_with("__gnu_cxx::")
        || name.starts_with("mi_")
        || name.starts_with("je_")
        || name.starts_with("tc_")
}

/// Allocator and runtime plumbing at the innermost end of a stack.
fn is_inner_plumbing(f: &Frame) -> bool {
    if is_shim(f) || is_runtime_module(&f.module) || f.module.starts_with("libstdc++") {
        return true;
    }
    let Some(name) = f.function.as_deref() else {
        return false;
    };
    // C++ names of function templates start with their return type ("void std::vector<…>
    // ::_M_realloc_insert<…>(…)"): also try the name without a first word that is a type.
    let unreturned = match name.split_once(' ') {
        Some((first, rest)) if !first.contains(['(', ':', '<']) => rest,
        _ => name,
    };
    [name, unreturned]
        .iter()
        .any(|n| is_alloc_function(n) || is_rust_runtime(n))
}

/// Start-up plumbing at the outermost end, once `main`'s callers are gone.
fn is_outer_plumbing(f: &Frame) -> bool {
    is_shim(f)
        || is_runtime_module(&f.module)
        || f.function
            .as_deref()
            .is_some_and(|n| is_startup(n) || is_rust_runtime(n))
}

/// The program's frames: drops the allocator and runtime plumbing at the innermost end
/// (libc's malloc family, libjemalloc/libtcmalloc/libmimalloc, libstdc++'s operator new,
/// Rust's alloc::/core::/std:: allocation frames, __rust_alloc, the shim
/// "libsoak_heap"/".soak-heap-shim.so", ld.so) and the start-up frames at the outer end
/// (__libc_start_main, _start, start_thread, clone, clone3, main's callers; Rust's
/// runtime and the `main` rustc generates for it), keeping at most `max` frames. If
/// nothing is left, keep the innermost non-shim frame so a site is never empty (unless
/// `max` is 0 or there are no frames). Frames between the ends are kept as they are.
pub fn program_frames(frames: &[Frame], max: usize) -> Vec<Frame> {
    fn name(f: &Frame) -> &str {
        f.function.as_deref().unwrap_or("")
    }
    // main's callers: everything outside the outermost `main`.
    let mut end = frames
        .iter()
        .rposition(|f| name(f) == "main")
        .map_or(frames.len(), |i| i + 1);
    // A thread's (or a stack without main's) start-up: the innermost start-up function
    // and everything outside it.
    if let Some(i) = frames[..end].iter().position(|f| is_startup(name(f))) {
        end = i;
    }
    let mut start = 0;
    while start < end && is_inner_plumbing(&frames[start]) {
        start += 1;
    }
    while end > start {
        let last = &frames[end - 1];
        // The C `main` rustc generates calls std::rt::lang_start: the runtime's, not
        // the program's (a C program's main is the program's).
        let rust_main =
            name(last) == "main" && end - 1 > start && is_rust_runtime(name(&frames[end - 2]));
        if is_outer_plumbing(last) || rust_main {
            end -= 1;
        } else {
            break;
        }
    }
    let kept = &frames[start..end];
    if kept.is_empty() {
        return frames
            .iter()
            .find(|f| !is_shim(f))
            .or(frames.first())
            .into_iter()
            .take(max)
            .cloned()
            .collect();
    }
    kept.iter().take(max).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(function: Option<&str>, module: &str) -> Frame {
        Frame {
            function: function.map(str::to_string),
            file: None,
            line: None,
            module: module.to_string(),
            offset: 0x10,
        }
    }

    fn names(frames: &[Frame]) -> Vec<String> {
        frames.iter().map(Frame::display).collect()
    }

    #[test]
    fn c_program_keeps_main_drops_libc_and_the_shim() {
        let stack = [
            f(Some("malloc"), ".soak-heap-shim.so"),
            f(Some("__libc_malloc"), "libc.so.6"),
            f(None, "libc.so.6"),
            f(Some("leak_here"), "app"),
            f(Some("main"), "app"),
            f(None, "libc.so.6"),
            f(Some("__libc_start_main"), "libc.so.6"),
            f(Some("_start"), "app"),
        ];
        assert_eq!(
            names(&program_frames(&stack, 8)),
            vec!["leak_here (app)", "main (app)"]
        );
        assert_eq!(names(&program_frames(&stack, 1)), vec!["leak_here (app)"]);
        assert!(program_frames(&stack, 0).is_empty());
    }

    #[test]
    fn rust_program_drops_the_runtime_at_both_ends() {
        let stack = [
            f(Some("malloc"), "libsoak_heap.so"),
            f(Some("__rust_alloc"), "app"),
            f(Some("alloc::raw_vec::finish_grow"), "app"),
            f(
                Some("<alloc::alloc::Global as core::alloc::Allocator>::allocate"),
                "app",
            ),
            f(Some("alloc::vec::Vec<T,A>::push"), "app"),
            f(Some("app::cache::insert"), "app"),
            f(
                Some("core::iter::traits::iterator::Iterator::for_each"),
                "app",
            ),
            f(Some("app::main"), "app"),
            f(Some("core::ops::function::FnOnce::call_once"), "app"),
            f(
                Some("std::sys::backtrace::__rust_begin_short_backtrace"),
                "app",
            ),
            f(Some("std::rt::lang_start::{{closure}}"), "app"),
            f(Some("std::rt::lang_start_internal"), "app"),
            f(Some("std::rt::lang_start"), "app"),
            f(Some("main"), "app"),
            f(Some("__libc_start_call_main"), "libc.so.6"),
            f(Some("_start"), "app"),
        ];
        // Plumbing in the middle stays: only the ends are trimmed.
        assert_eq!(
            names(&program_frames(&stack, 8)),
            vec![
                "app::cache::insert (app)",
                "core::iter::traits::iterator::Iterator::for_each (app)",
                "app::main (app)"
            ]
        );
    }

    #[test]
    fn threads_cpp_and_other_allocators() {
        let thread = [
            f(Some("je_malloc"), "app"),
            f(Some("operator new(unsigned long)"), "libstdc++.so.6"),
            f(
                Some("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)"),
                "app",
            ),
            f(Some("int* std::__new_allocator<int>::allocate(unsigned long, void const*)"), "app"),
            f(Some("ns::Store::add(int)"), "app"),
            f(Some("worker(void*)"), "app"),
            f(None, "libc.so.6"),
            f(Some("clone3"), "libc.so.6"),
        ];
        assert_eq!(
            names(&program_frames(&thread, 8)),
            vec!["ns::Store::add(int) (app)", "worker(void*) (app)"]
        );
        let mimalloc = [
            f(Some("mi_malloc"), "libmimalloc.so.2"),
            f(Some("tc_malloc"), "libtcmalloc.so.4"),
            f(None, "ld-linux-x86-64.so.2"),
            f(None, "app"),
            f(Some("start_thread"), "libc.so.6"),
        ];
        assert_eq!(names(&program_frames(&mimalloc, 8)), vec!["app+0x10"]);
        // A Rust thread: the spawn closure machinery and thread_start are runtime.
        let rust_thread = [
            f(Some("app::work::{{closure}}"), "app"),
            f(
                Some("std::sys::backtrace::__rust_begin_short_backtrace"),
                "app",
            ),
            f(
                Some("<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"),
                "app",
            ),
            f(
                Some("std::sys::pal::unix::thread::Thread::new::thread_start"),
                "app",
            ),
            f(None, "libc.so.6"),
            f(None, "libc.so.6"),
        ];
        assert_eq!(
            names(&program_frames(&rust_thread, 8)),
            vec!["app::work::{{closure}} (app)"]
        );
    }

    #[test]
    fn never_empty_unless_nothing_to_keep() {
        let only_plumbing = [
            f(Some("malloc"), ".soak-heap-shim.so"),
            f(Some("__libc_malloc"), "libc.so.6"),
            f(Some("_start"), "app"),
        ];
        assert_eq!(
            names(&program_frames(&only_plumbing, 4)),
            vec!["__libc_malloc (libc.so.6)"]
        );
        let only_shim = [f(Some("malloc"), "libsoak_heap.so")];
        assert_eq!(
            names(&program_frames(&only_shim, 4)),
            vec!["malloc (libsoak_heap.so)"]
        );
        assert!(program_frames(&[], 4).is_empty());
        // Unknown frames of the program are kept (a stripped binary).
        let stripped = [
            f(Some("malloc"), "libc.so.6"),
            f(None, "app"),
            f(None, "app"),
            f(Some("__libc_start_main"), "libc.so.6"),
        ];
        assert_eq!(
            names(&program_frames(&stripped, 4)),
            vec!["app+0x10", "app+0x10"]
        );
    }

    #[test]
    fn shared_rules() {
        assert!(is_rust_runtime("std::rt::lang_start (rt.rs:1:1)"));
        assert!(is_rust_runtime(
            "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem"
        ));
        assert!(!is_rust_runtime("app::leak"));
        assert!(is_startup("start_thread"));
        assert!(is_startup("_start (start.S:120)"));
        assert!(!is_startup("clone_tree"));
        assert!(!is_startup("_start_server"));
    }
}
