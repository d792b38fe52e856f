//! The process's peak memory, for the reports of commands that promise a bound on it.

/// Peak resident memory of this process in bytes (Linux's `VmHWM`), if the system says.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `, peak memory 812 MB` (empty where the system does not say).
pub fn peak_note() -> String {
    peak_rss_bytes().map_or(String::new(), |b| {
        format!(", peak memory {} MB", b.div_ceil(1 << 20))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let b = super::peak_rss_bytes().unwrap();
            assert!(b > 1 << 20 && b < 1 << 40, "{b}");
            assert!(super::peak_note().ends_with(" MB"));
        }
    }
}
