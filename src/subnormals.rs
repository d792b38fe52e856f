//! Flushing subnormal floats to zero in the processes that train or refine latents.
//!
//! Arithmetic on subnormal floats (below 1.2e-38 in f32) takes a slow microcode path on many
//! x86 CPUs: on an Intel Xeon (Sapphire Rapids, 2 threads) a hyperprior fine-tune on libtorch
//! ran at 2.7 images/s with IEEE subnormals and 9.6 with them flushed, its losses equal to the
//! digits printed (AMD EPYC, where the earlier recipes trained, pays far less). Training loses
//! nothing by treating numbers that small as zero; PyTorch offers the same switch
//! (`torch.set_flush_denormal`). Encoding with `--refine` (gradient descent on the latents,
//! in compress and rd) flushes too. The one computation whose bits must be the same in every
//! process, the coder's scalar hyper-synthesis, runs inside [`ieee`] whatever its caller set,
//! so a file coded by a flushed process decodes in any other; decompress, eval and serve
//! never flush.
//!
//! The setting (SSE's MXCSR: flush-to-zero and denormals-are-zero) belongs to each thread and a
//! new thread copies its creator's, so it is set first thing in the command, before libtorch's
//! and rayon's worker threads exist.

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 1 << 15 | 1 << 6;

/// The calling thread's SSE control register.
#[cfg(target_arch = "x86_64")]
fn mxcsr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr only reads this thread's SSE control register, which every x86-64 CPU has.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack)) };
    csr
}

/// Sets the calling thread's SSE control register (callers change only FTZ and DAZ, or write
/// back a value read from it).
#[cfg(target_arch = "x86_64")]
fn set_mxcsr(csr: u32) {
    // SAFETY: ldmxcsr writes this thread's SSE control register only; FTZ and DAZ are valid
    // bits on every x86-64 CPU, and the other bits are the thread's own.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack)) };
}

/// Sets flush-to-zero and denormals-are-zero on the calling thread (and so on every thread it
/// starts from now on). Returns whether this CPU architecture has the switch (x86-64); elsewhere
/// it does nothing.
pub fn flush_to_zero() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        set_mxcsr(mxcsr() | FTZ_DAZ);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Runs `f` with IEEE subnormals on the calling thread (and the threads `f` starts), then
/// restores the thread's setting: for the code whose results must be the same bits in every
/// process, flushed or not.
pub fn ieee<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        // Restored on the way out, by unwinding too.
        struct Restore(u32);
        impl Drop for Restore {
            fn drop(&mut self) {
                set_mxcsr(self.0);
            }
        }
        let saved = mxcsr();
        let _restore = Restore(saved);
        set_mxcsr(saved & !FTZ_DAZ);
        f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// Whether the calling thread flushes subnormals (both FTZ and DAZ set); false where the
/// architecture has no such switch.
pub fn flushed() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        mxcsr() & FTZ_DAZ == FTZ_DAZ
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// Half the smallest normal f32, computed at run time: 0 when subnormals are flushed.
    fn half_min_normal() -> f32 {
        black_box(f32::MIN_POSITIVE) * black_box(0.5)
    }

    #[test]
    fn flushing_reaches_the_thread_and_the_threads_it_starts_only() {
        // A thread of its own, so the test harness's threads keep IEEE subnormals.
        let (here, child) = std::thread::spawn(|| {
            assert_eq!(
                half_min_normal(),
                f32::MIN_POSITIVE / 2.0,
                "before: a subnormal"
            );
            assert!(!flushed());
            let set = flush_to_zero();
            assert_eq!(flushed(), set);
            let child = std::thread::spawn(half_min_normal).join().unwrap();
            (set.then(half_min_normal), child)
        })
        .join()
        .unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(here, Some(0.0));
            assert_eq!(
                child, 0.0,
                "a thread started afterwards inherits the setting"
            );
            // Inputs too (denormals-are-zero): a subnormal operand counts as 0.
            let sum = std::thread::spawn(|| {
                let tiny = black_box(f32::from_bits(1));
                flush_to_zero();
                tiny + black_box(0.0)
            })
            .join()
            .unwrap();
            assert_eq!(sum, 0.0);
        }
        assert!(half_min_normal() > 0.0, "other threads are untouched");
    }

    #[test]
    fn ieee_keeps_subnormals_inside_a_flushed_thread_and_restores_the_flush() {
        let (inside, started_inside, after, still) = std::thread::spawn(|| {
            let set = flush_to_zero();
            let inside = ieee(|| (half_min_normal(), std::thread::spawn(half_min_normal)));
            let (inside, child) = inside;
            (
                inside,
                child.join().unwrap(),
                half_min_normal(),
                flushed() == set,
            )
        })
        .join()
        .unwrap();
        assert_eq!(inside, f32::MIN_POSITIVE / 2.0, "IEEE inside");
        assert_eq!(
            started_inside,
            f32::MIN_POSITIVE / 2.0,
            "and in its threads"
        );
        assert!(still, "the flush is back afterwards");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(after, 0.0);
        }
        // Without a flush it changes nothing.
        assert_eq!(ieee(half_min_normal), f32::MIN_POSITIVE / 2.0);
        assert!(!flushed());
    }
}
