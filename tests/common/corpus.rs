//! The shared corpus of real data (`../shared/corpus` beside the checkout; an environment
//! variable can point a part of it elsewhere). A fresh clone may not have it, so tests that
//! need it skip, saying so; CI promises it, so under `CI=true` its absence fails the test
//! instead of letting it pass having checked nothing.

use std::path::{Path, PathBuf};

/// `relative` inside the corpus beside the checkout, or the path `override_var` names when set.
pub fn path(relative: &str, override_var: Option<&str>) -> PathBuf {
    override_var
        .and_then(std::env::var_os)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/corpus")
                .join(relative)
        })
}

/// `path` when it exists; otherwise a note and `None`, or a failure under CI.
pub fn present(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "CI=true and the shared corpus is missing at {}: CI must provide ../shared/corpus beside \
         the checkout (or the override variable)",
        path.display()
    );
    eprintln!("skipped: corpus {} is not present", path.display());
    None
}

/// Whether this run is CI's (`CI=true`), where what the tests need must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
