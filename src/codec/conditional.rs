//! The Gaussian conditional's training side: the likelihood of a (noisy) latent value `y`
//! under N(μ, σ²) discretised to unit bins, whose `-log2` is the rate term, as CompressAI's
//! `GaussianConditional._likelihood`. The coding side, with the same distributions as
//! integer tables, is [`super::gaussian`].

use burn::prelude::*;

use super::gaussian::SCALE_MIN;

/// Likelihoods below this count as this (CompressAI's `likelihood_lower_bound`): a rate term
/// of at most 30 bits per value, and no `log(0)`.
pub const LIKELIHOOD_MIN: f32 = 1e-9;

/// `P(round(y) bin | μ, σ) = Φ((½ - |y - μ|) / σ) - Φ((-½ - |y - μ|) / σ)`, elementwise, σ
/// raised to [`SCALE_MIN`] (the coder's smallest scale) and the result to [`LIKELIHOOD_MIN`].
/// The distance is taken as `-|y - μ|` so both arguments sit on the CDF's lower, more precise
/// side; in f32 a likelihood under about 1e-7 is still only roughly right (`Φ` here is
/// `½ + ½ erf`, burn has no `erfc`), which moves the rate of such rare values by a fraction
/// of a bit.
pub fn likelihood(y: Tensor<4>, mean: Tensor<4>, scale: Tensor<4>) -> Tensor<4> {
    let scale = scale.clamp_min(SCALE_MIN as f32);
    let v = (y - mean).abs().neg();
    let upper = normal_cdf((v.clone() + 0.5) / scale.clone());
    let lower = normal_cdf((v - 0.5) / scale);
    (upper - lower).clamp_min(LIKELIHOOD_MIN)
}

fn normal_cdf(x: Tensor<4>) -> Tensor<4> {
    (x / std::f32::consts::SQRT_2).erf() * 0.5 + 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::gaussian::{ScaleTable, pmf};

    #[test]
    fn likelihoods_over_all_bins_sum_to_one_and_match_the_coders_tables() {
        let device = Device::flex();
        let table = ScaleTable::get();
        for (mean, scale) in [
            (0.0f32, 0.11f32),
            (0.3, 0.5),
            (-2.7, 1.7),
            (5.5, 12.0),
            (0.49, 60.0),
        ] {
            // Every integer bin the coder's entry for this scale covers, and far beyond.
            let index = table.index(scale);
            let half = table.entries[index as usize].half as i64 + 20;
            let ys: Vec<f32> = (-half..=half).map(|k| mean.round() + k as f32).collect();
            let n = ys.len();
            let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, 1, n]), &device);
            let lik = likelihood(t(ys.clone()), t(vec![mean; n]), t(vec![scale; n]));
            let lik: Vec<f32> = lik.into_data().convert::<f32>().try_to_vec().unwrap();
            let sum: f64 = lik.iter().map(|&l| l as f64).sum();
            // Each far bin adds at most LIKELIHOOD_MIN.
            assert!(
                (sum - 1.0).abs() < 1e-4 + n as f64 * 1e-9,
                "μ {mean} σ {scale}: sum {sum}"
            );
            // Against the coder's f64 probabilities at the same σ (μ on the grid here).
            if mean == mean.round() {
                let want = pmf(scale as f64, half as u32);
                for (a, b) in lik.iter().zip(&want).skip(21).take(want.len() - 42) {
                    assert!((*a as f64 - b).abs() < 2e-6, "σ {scale}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn the_rate_falls_where_the_value_is_likely() {
        let device = Device::flex();
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, 1, 3]), &device);
        let lik = likelihood(t(vec![0.0, 3.0, 40.0]), t(vec![0.0; 3]), t(vec![1.0; 3]));
        let lik: Vec<f32> = lik.into_data().convert::<f32>().try_to_vec().unwrap();
        // Φ(½) - Φ(-½) = 0.382925, Φ(-2.5) - Φ(-3.5) = 0.0059765, and the floor.
        assert!((lik[0] - 0.382_925).abs() < 1e-5, "{lik:?}");
        assert!((lik[1] - 0.005_976_5).abs() < 1e-6, "{lik:?}");
        assert_eq!(lik[2], LIKELIHOOD_MIN);
        // σ below the table's smallest scale counts as that scale.
        let tiny = likelihood(t(vec![0.0; 3]), t(vec![0.0; 3]), t(vec![1e-4; 3]));
        let at_min = likelihood(
            t(vec![0.0; 3]),
            t(vec![0.0; 3]),
            t(vec![SCALE_MIN as f32; 3]),
        );
        assert_eq!(
            tiny.into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap(),
            at_min
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()
        );
    }
}
