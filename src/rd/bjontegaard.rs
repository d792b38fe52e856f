//! The Bjøntegaard delta rate (VCEG-M33, 2001): the average bitrate difference between two
//! rate–distortion curves at equal quality, over the quality range both cover.
//!
//! Log-rate is interpolated as a function of quality with a piecewise cubic Hermite
//! interpolant (PCHIP, Fritsch–Carlson slopes, as scipy's `PchipInterpolator`), the variant
//! recommended since the original cubic fit misbehaves on non-uniform points (JVET-K0156 and
//! the `bjontegaard` Python package's `method="pchip"`); it works from two points per curve.

use anyhow::{Result, bail};

/// A PCHIP interpolant through points with strictly increasing `x`.
#[derive(Debug, Clone)]
pub struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    d: Vec<f64>,
}

impl Pchip {
    /// Through `points` (`x`, `y`), sorted here by `x`; needs two or more distinct `x`.
    pub fn new(points: &[(f64, f64)]) -> Result<Self> {
        let mut p: Vec<(f64, f64)> = points.to_vec();
        if p.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            bail!("a rate-distortion point is not finite");
        }
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        if p.len() < 2 {
            bail!("a curve needs at least 2 points, it has {}", p.len());
        }
        if p.windows(2).any(|w| w[1].0 <= w[0].0) {
            bail!("two points of a curve share a quality value");
        }
        let (x, y): (Vec<f64>, Vec<f64>) = p.into_iter().unzip();
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let delta: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            d = vec![delta[0]; 2];
        } else {
            for k in 1..n - 1 {
                if delta[k - 1] * delta[k] > 0.0 {
                    let w1 = 2.0 * h[k] + h[k - 1];
                    let w2 = h[k] + 2.0 * h[k - 1];
                    d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
                }
            }
            d[0] = edge(h[0], h[1], delta[0], delta[1]);
            d[n - 1] = edge(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
        }
        Ok(Self { x, y, d })
    }

    /// Smallest and largest `x`.
    pub fn range(&self) -> (f64, f64) {
        (self.x[0], self.x[self.x.len() - 1])
    }

    /// The interpolant at `t` (clamped to the range).
    pub fn eval(&self, t: f64) -> f64 {
        let (k, h, s) = self.locate(t);
        let (s2, s3) = (s * s, s * s * s);
        (2.0 * s3 - 3.0 * s2 + 1.0) * self.y[k]
            + (s3 - 2.0 * s2 + s) * h * self.d[k]
            + (-2.0 * s3 + 3.0 * s2) * self.y[k + 1]
            + (s3 - s2) * h * self.d[k + 1]
    }

    /// `∫ p(x) dx` from `a` to `b` (both within the range, `a <= b`).
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        let mut total = 0.0;
        for k in 0..self.x.len() - 1 {
            let (lo, hi) = (a.max(self.x[k]), b.min(self.x[k + 1]));
            if hi > lo {
                total += self.piece_integral(k, lo, hi);
            }
        }
        total
    }

    fn piece_integral(&self, k: usize, lo: f64, hi: f64) -> f64 {
        let h = self.x[k + 1] - self.x[k];
        // Antiderivatives of the Hermite basis in s = (x - x_k) / h, times h.
        let f = |s: f64| {
            let (s2, s3, s4) = (s * s, s * s * s, s * s * s * s);
            h * ((s4 / 2.0 - s3 + s) * self.y[k]
                + (s4 / 4.0 - 2.0 * s3 / 3.0 + s2 / 2.0) * h * self.d[k]
                + (-s4 / 2.0 + s3) * self.y[k + 1]
                + (s4 / 4.0 - s3 / 3.0) * h * self.d[k + 1])
        };
        f((hi - self.x[k]) / h) - f((lo - self.x[k]) / h)
    }

    fn locate(&self, t: f64) -> (usize, f64, f64) {
        let (lo, hi) = self.range();
        let t = t.clamp(lo, hi);
        let k = (0..self.x.len() - 1)
            .find(|&k| t <= self.x[k + 1])
            .unwrap_or(self.x.len() - 2);
        let h = self.x[k + 1] - self.x[k];
        (k, h, (t - self.x[k]) / h)
    }
}

/// scipy's end slope: a three-point estimate, kept shape-preserving.
fn edge(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

/// BD-rate of `test` against `anchor`, in percent: negative means `test` needs fewer bits
/// for the same quality. Points are (bits per pixel, quality), quality increasing with rate.
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Result<f64> {
    let curve = |pts: &[(f64, f64)]| -> Result<Pchip> {
        if pts.iter().any(|(r, _)| *r <= 0.0) {
            bail!("rates must be above 0");
        }
        Pchip::new(&pts.iter().map(|(r, q)| (*q, r.ln())).collect::<Vec<_>>())
    };
    let (a, t) = (curve(anchor)?, curve(test)?);
    let (lo, hi) = (a.range().0.max(t.range().0), a.range().1.min(t.range().1));
    if hi <= lo {
        bail!(
            "the curves do not overlap in quality (anchor {:.4}..{:.4}, test {:.4}..{:.4})",
            a.range().0,
            a.range().1,
            t.range().0,
            t.range().1
        );
    }
    let diff = (t.integral(lo, hi) - a.integral(lo, hi)) / (hi - lo);
    Ok((diff.exp() - 1.0) * 100.0)
}

/// The rate `anchor` needs for quality `q` (log-rate interpolated), if `q` is in its range.
pub fn rate_at(anchor: &[(f64, f64)], q: f64) -> Option<f64> {
    let c = Pchip::new(
        &anchor
            .iter()
            .filter(|(r, _)| *r > 0.0)
            .map(|(r, q)| (*q, r.ln()))
            .collect::<Vec<_>>(),
    )
    .ok()?;
    let (lo, hi) = c.range();
    (lo..=hi).contains(&q).then(|| c.eval(q).exp())
}

/// The quality `curve` reaches at `rate` (interpolated over log-rate), if `rate` is in its
/// range: e.g. JPEG's ΔE00 at a model's bits per pixel.
pub fn quality_at(curve: &[(f64, f64)], rate: f64) -> Option<f64> {
    if rate <= 0.0 {
        return None;
    }
    let c = Pchip::new(
        &curve
            .iter()
            .filter(|(r, _)| *r > 0.0)
            .map(|(r, q)| (r.ln(), *q))
            .collect::<Vec<_>>(),
    )
    .ok()?;
    let (lo, hi) = c.range();
    (lo..=hi).contains(&rate.ln()).then(|| c.eval(rate.ln()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pchip_reproduces_lines_and_integrates_them() {
        let p = Pchip::new(&[(0.0, 1.0), (1.0, 3.0), (3.0, 7.0), (4.0, 9.0)]).unwrap();
        assert!((p.eval(2.0) - 5.0).abs() < 1e-12);
        // ∫_0^4 (2x + 1) dx = 20.
        assert!((p.integral(0.0, 4.0) - 20.0).abs() < 1e-12);
        assert!((p.integral(0.5, 2.5) - (2.5f64.powi(2) + 2.5 - 0.25 - 0.5)).abs() < 1e-12);
    }

    #[test]
    fn a_curve_at_half_the_rate_is_minus_fifty_percent() {
        let anchor = [(0.2, 28.0), (0.4, 31.0), (0.8, 34.5), (1.6, 37.0)];
        let half: Vec<(f64, f64)> = anchor.iter().map(|(r, q)| (r / 2.0, *q)).collect();
        assert!((bd_rate(&anchor, &half).unwrap() + 50.0).abs() < 1e-9);
        assert!(bd_rate(&anchor, &anchor).unwrap().abs() < 1e-12);
        assert!((rate_at(&anchor, 31.0).unwrap() - 0.4).abs() < 1e-12);
        assert!(rate_at(&anchor, 40.0).is_none());
        assert!((quality_at(&anchor, 0.8).unwrap() - 34.5).abs() < 1e-12);
        let q = quality_at(&anchor, 0.6).unwrap();
        assert!(q > 31.0 && q < 34.5, "{q}");
        assert!(quality_at(&anchor, 0.1).is_none() && quality_at(&anchor, 2.0).is_none());
        assert!(bd_rate(&anchor, &[(1.0, 50.0), (2.0, 51.0)]).is_err());
        assert!(bd_rate(&anchor, &[(1.0, 30.0)]).is_err());
    }
}
