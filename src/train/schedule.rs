//! Learning rate as a pure function of the step, so resuming needs no scheduler state
//! beyond the step itself.

use crate::config::{Schedule, TrainConfig};

/// Learning rate for optimiser step `step` (0-based) of a run of `total` steps.
///
/// The warm-up is capped at a tenth of the run, so that a short run (a smoke test with
/// `--set train.steps=50`) still reaches the peak rate.
pub fn learning_rate(t: &TrainConfig, step: u64, total: u64) -> f64 {
    let warmup = warmup_steps(t, total);
    if step < warmup {
        return t.lr * (step + 1) as f64 / warmup as f64;
    }
    match t.schedule {
        Schedule::Constant => t.lr,
        Schedule::Cosine => {
            let span = total.saturating_sub(warmup).max(1) as f64;
            let progress = ((step - warmup) as f64 / span).min(1.0);
            t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
        Schedule::Step => {
            let decays = (step - warmup) / t.decay_every;
            t.lr * t.decay_gamma.powi(decays.min(i32::MAX as u64) as i32)
        }
    }
}

/// The warm-up steps a `total`-step run takes: `train.warmup_steps`, at most a tenth of the run.
pub fn warmup_steps(t: &TrainConfig, total: u64) -> u64 {
    t.warmup_steps.min(total / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut t = TrainConfig {
            lr: 1e-2,
            min_lr: 1e-4,
            warmup_steps: 4,
            ..TrainConfig::default()
        };
        assert_eq!(learning_rate(&t, 0, 104), 2.5e-3);
        assert_eq!(learning_rate(&t, 3, 104), 1e-2);
        assert!((learning_rate(&t, 4, 104) - 1e-2).abs() < 1e-12);
        assert!((learning_rate(&t, 54, 104) - (1e-2 + 1e-4) / 2.0).abs() < 1e-12);
        assert!((learning_rate(&t, 104, 104) - 1e-4).abs() < 1e-12);
        t.schedule = Schedule::Step;
        t.decay_every = 10;
        assert_eq!(learning_rate(&t, 13, 100), 1e-2);
        assert_eq!(learning_rate(&t, 14, 100), 5e-3);
        t.schedule = Schedule::Constant;
        assert_eq!(learning_rate(&t, 99, 100), 1e-2);
        // A 20-step run warms up over 2 steps, not 4.
        assert_eq!(learning_rate(&t, 0, 20), 5e-3);
        assert_eq!(learning_rate(&t, 2, 20), 1e-2);
    }
}
