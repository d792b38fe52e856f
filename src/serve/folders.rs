//! The folders the web app lists (runs, evaluations, reports, trials): found under a root
//! without following links, named by their path under it.

use std::path::Path;

/// The folders at depth 1 to `max_depth` under `root` that `pick` keeps, each with its id
/// (its path under the root, `/`-separated), sorted by id. Links are not followed, so
/// nothing outside the root is found; a name that is not UTF-8 is left out.
pub fn find<T>(
    root: &Path,
    max_depth: usize,
    pick: impl Fn(&Path) -> Option<T>,
) -> Vec<(String, T)> {
    let mut out: Vec<(String, T)> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(max_depth)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir())
        .filter_map(|e| {
            let id = e
                .path()
                .strip_prefix(root)
                .ok()?
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<Vec<_>>>()?
                .join("/");
            Some((id, pick(e.path())?))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A `/`-separated name that stays under any folder it is looked up in: relative, no `..`,
/// `.` or empty parts, no backslash or NUL. Ids and image names that fail it are refused
/// before any lookup.
pub fn is_plain(name: &str) -> bool {
    !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}
