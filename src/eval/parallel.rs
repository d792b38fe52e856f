//! A small parallel map over the CPU cores for the per-image work (JPEG and metrics), which
//! is independent per image and too fine-grained to be worth a thread pool crate.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

/// Threads used: the machine's cores.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f(state, i, item)` for every item, on [`threads`] threads, each with its own `state`
/// from `init`; results in item order. Items are handed out one by one, so threads that hit
/// cheap items take more. An error stops the work and is returned.
pub fn par_map<T, S, R>(
    items: &[T],
    init: impl Fn() -> Result<S> + Sync,
    f: impl Fn(&mut S, usize, &T) -> Result<R> + Sync,
) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let n = threads().min(items.len()).max(1);
    let parts: Vec<Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| -> Result<Vec<(usize, R)>> {
                    let mut state = init()?;
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        match f(&mut state, i, item) {
                            Ok(r) => out.push((i, r)),
                            Err(e) => {
                                // Stop the other threads at their next item.
                                next.store(items.len(), Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    });
    let mut all: Vec<(usize, R)> = Vec::with_capacity(items.len());
    for part in parts {
        all.extend(part?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_reports_errors() {
        let items: Vec<u32> = (0..100).collect();
        let out = par_map(
            &items,
            || Ok(0u32),
            |n, i, x| {
                *n += 1;
                Ok((i as u32, x * 2))
            },
        )
        .unwrap();
        assert!(
            out.iter()
                .enumerate()
                .all(|(i, (j, v))| i as u32 == *j && *v == 2 * i as u32)
        );
        let err = par_map(
            &items,
            || Ok(()),
            |_, _, x| {
                anyhow::ensure!(*x != 57, "item 57 is bad");
                Ok(*x)
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "item 57 is bad");
    }
}
