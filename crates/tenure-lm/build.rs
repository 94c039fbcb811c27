//! Links OpenBLAS when the `openblas` feature is on (ndarray's `blas` feature declares
//! `cblas_sgemm` but leaves the choice of library to the final crate).
//!
//! Debian's threaded build (`libopenblas-dev`, `/usr/lib/<multiarch>/openblas-pthread`) is linked
//! statically, so the binary does not depend on which OpenBLAS flavour the system's alternatives
//! select at run time. The encoder runs one batch per core and sets OpenBLAS to one thread
//! (src/blas.rs): Debian's single-threaded build gave non-deterministic results under concurrent
//! calls (1 run in 8 differed), the threaded build with one thread did not (36 runs of 36 alike).
//! `TENURE_OPENBLAS_LIB_DIR` names another folder holding `libopenblas.a`.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TENURE_OPENBLAS_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_none() {
        return;
    }
    let dir = std::env::var("TENURE_OPENBLAS_LIB_DIR").unwrap_or_else(|_| {
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
        format!("/usr/lib/{arch}-linux-gnu/openblas-pthread")
    });
    if !std::path::Path::new(&dir).join("libopenblas.a").exists() {
        println!(
            "cargo:warning=no libopenblas.a in {dir}: install Debian's libopenblas-dev, set \
             TENURE_OPENBLAS_LIB_DIR, or build without the `openblas` feature \
             (--no-default-features for tenure-cli)"
        );
    }
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=static=openblas");
}
