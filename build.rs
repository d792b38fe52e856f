//! With the `tch` feature, bakes libtorch's folder into the binary's run path, so the binary
//! finds libtorch (inside the PyTorch wheel of `make libtorch`) without LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
