//! Link flags for the `tenure` binary.

fn main() {
    // `tenure` links DuckDB, whose C++ vtables and type infos give the position-independent binary
    // some 145,000 relative relocations that the loader applies at every start (about 11 ms of a
    // 4 ms process start, measured with `perf stat tenure --version`). Packed (RELR) relocations
    // cut that to about 9 ms while keeping the binary position-independent. GNU ld 2.38+ and lld
    // understand the flag; it only applies to ELF targets.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
